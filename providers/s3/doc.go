// Package s3 purges derivatives kept in Amazon S3 or an S3-compatible store
// (versitygw, MinIO, Ceph RGW, SeaweedFS, OCI, KS3 ...) with aws-sdk-go-v2.
//
// One image's renditions live under one key prefix, "derived/{id}/" by
// default, that always ends with "/" so image "abc" never reaches "abcd/".
// The provider lists them with paginated ListObjectsV2 (EncodingType=url, so
// any key survives the XML listing) and deletes them with DeleteObjects in
// batches of at most 1,000 keys, several batches at a time. Keys that XML 1.0
// cannot carry go one by one through DeleteObject, with the key in the URL
// path. A 200 DeleteObjects reply that lists per-key errors is a failure of
// those keys, reported with the store's own code.
//
// Two behaviours of the SDK are deliberately overridden. DeleteObjects gets
// a Content-MD5 header again, which service/s3 v1.73.0 replaced with CRC32
// and which many S3-compatible stores still require (aws-sdk-go-v2 issue
// 3258). And the SDK does not retry: imgpurge's orchestrator owns retries.
package s3

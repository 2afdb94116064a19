package cases

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/xml"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// s3Rules are the quirks of one fake S3-compatible store. The zero value
// behaves like a lenient store with S3's page size.
type s3Rules struct {
	// requireMD5 answers DeleteObjects 400 MissingContentMD5 unless it
	// carries a correct Content-MD5 of its body (older MinIO, OCI, KS3).
	requireMD5 bool
	// requireCRC32 answers DeleteObjects 400 InvalidRequest unless it
	// carries a correct x-amz-checksum-crc32, and 400 BadDigest to a wrong
	// Content-MD5, as AWS S3 does.
	requireCRC32 bool
	// refuseDeletes answers every DeleteObjects with this code, status 400.
	refuseDeletes string
	// keyErrors makes every delete of these keys fail with the code: as a
	// per-key <Error> in a 200 DeleteObjects reply, and as a 400 answer to
	// DeleteObject.
	keyErrors map[string]string
	// pageSize is the most keys per listing page; S3's 1,000 when zero.
	pageSize int
}

// s3Call is one request as the store received it.
type s3Call struct {
	op        string // ListObjectsV2, DeleteObjects or DeleteObject
	at        time.Time
	prefix    string
	delimiter string
	token     string
	encoding  string
	// keys are the keys a delete named, exact bytes.
	keys   []string
	header http.Header
	body   []byte
	status int
}

// fakeS3 is an S3-compatible store holding one path-style bucket, enough of
// ListObjectsV2, DeleteObjects and DeleteObject for the cases. It checks no
// signature: versitygw does that in the end-to-end test.
type fakeS3 struct {
	URL    string
	bucket string
	rules  s3Rules

	mu      sync.Mutex
	objects map[string]bool
	calls   []s3Call
}

func startFakeS3(t *testing.T, bucket string, rules s3Rules) *fakeS3 {
	t.Helper()
	f := &fakeS3{bucket: bucket, rules: rules, objects: map[string]bool{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

func (f *fakeS3) put(keys ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range keys {
		f.objects[k] = true
	}
}

func (f *fakeS3) holds(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.objects[key]
}

// keysUnder returns the keys held under prefix, sorted.
func (f *fakeS3) keysUnder(prefix string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for k := range f.objects {
		if strings.HasPrefix(k, prefix) {
			out = append(out, k)
		}
	}
	slices.Sort(out)
	return out
}

// callsOf returns the requests of one operation, or every request for "".
func (f *fakeS3) callsOf(op string) []s3Call {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []s3Call
	for _, c := range f.calls {
		if op == "" || c.op == op {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	call := s3Call{at: time.Now(), header: r.Header.Clone(), body: body}
	// r.URL.Path is percent-decoded, so a key arrives as its exact bytes.
	rest, ok := strings.CutPrefix(r.URL.Path, "/"+f.bucket)
	q := r.URL.Query()
	switch {
	case !ok:
		call.op = "Unknown"
		f.answer(w, call, s3Error(404, "NoSuchBucket"))
	case r.Method == http.MethodGet && q.Get("list-type") == "2" && (rest == "/" || rest == ""):
		call.op = "ListObjectsV2"
		f.list(w, q, call)
	case r.Method == http.MethodPost && q.Has("delete"):
		call.op = "DeleteObjects"
		f.deleteObjects(w, r, call)
	case r.Method == http.MethodDelete && len(rest) > 1:
		call.op = "DeleteObject"
		f.deleteObject(w, strings.TrimPrefix(rest, "/"), call)
	default:
		call.op = "Unknown"
		f.answer(w, call, s3Error(501, "NotImplemented"))
	}
}

// answer records the call with its status and writes the reply.
func (f *fakeS3) answer(w http.ResponseWriter, call s3Call, rep reply) {
	call.status = rep.status
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.mu.Unlock()
	rep.write(w)
}

type listPage struct {
	XMLName               xml.Name `xml:"ListBucketResult"`
	Name                  string
	Prefix                string
	Delimiter             string `xml:",omitempty"`
	KeyCount              int
	MaxKeys               int
	IsTruncated           bool
	EncodingType          string `xml:",omitempty"`
	ContinuationToken     string `xml:",omitempty"`
	NextContinuationToken string `xml:",omitempty"`
	Contents              []struct{ Key string }
	CommonPrefixes        []struct{ Prefix string }
}

func (f *fakeS3) list(w http.ResponseWriter, q url.Values, call s3Call) {
	call.prefix, call.delimiter = q.Get("prefix"), q.Get("delimiter")
	call.token, call.encoding = q.Get("continuation-token"), q.Get("encoding-type")
	keys := f.keysUnder(call.prefix)
	start := 0
	if call.token != "" {
		n, err := strconv.Atoi(strings.TrimPrefix(call.token, "after-"))
		if err != nil || n > len(keys) {
			f.answer(w, call, s3Error(400, "InvalidArgument"))
			return
		}
		start = n
	}
	size := f.rules.pageSize
	if size == 0 {
		size = 1000
	}
	end := min(start+size, len(keys))
	page := listPage{Name: f.bucket, Prefix: call.prefix, Delimiter: call.delimiter,
		MaxKeys: size, KeyCount: end - start, ContinuationToken: call.token}
	if call.encoding == "url" {
		page.EncodingType = "url"
	}
	seen := map[string]bool{}
	for _, k := range keys[start:end] {
		if sub, deeper := f.commonPrefix(k, call); deeper {
			if !seen[sub] {
				seen[sub] = true
				page.CommonPrefixes = append(page.CommonPrefixes,
					struct{ Prefix string }{encodeKey(sub, page.EncodingType)})
			}
			continue
		}
		page.Contents = append(page.Contents, struct{ Key string }{encodeKey(k, page.EncodingType)})
	}
	if end < len(keys) {
		page.IsTruncated, page.NextContinuationToken = true, "after-"+strconv.Itoa(end)
	}
	f.answer(w, call, xmlReply(200, page))
}

// commonPrefix rolls a key that has the delimiter past the prefix into its
// common prefix, as S3 does.
func (f *fakeS3) commonPrefix(key string, call s3Call) (string, bool) {
	if call.delimiter == "" {
		return "", false
	}
	rest := strings.TrimPrefix(key, call.prefix)
	i := strings.Index(rest, call.delimiter)
	if i < 0 {
		return "", false
	}
	return call.prefix + rest[:i+len(call.delimiter)], true
}

// encodeKey writes a key as S3 lists it with encoding-type=url: form
// encoding, with "/" left as it is, so byte 0x10 becomes %10.
func encodeKey(key, encoding string) string {
	if encoding != "url" {
		return key
	}
	return strings.ReplaceAll(url.QueryEscape(key), "%2F", "/")
}

type deleteBody struct {
	Quiet   bool
	Objects []struct{ Key string } `xml:"Object"`
}

type keyError struct{ Key, Code, Message string }

type deleteResult struct {
	XMLName xml.Name   `xml:"DeleteResult"`
	Errors  []keyError `xml:"Error"`
}

func (f *fakeS3) deleteObjects(w http.ResponseWriter, r *http.Request, call s3Call) {
	if rep, refused := f.checkDelete(r.Header, call.body); refused {
		f.answer(w, call, rep)
		return
	}
	var req deleteBody
	if err := xml.Unmarshal(call.body, &req); err != nil {
		f.answer(w, call, s3Error(400, "MalformedXML"))
		return
	}
	var res deleteResult
	f.mu.Lock()
	for _, o := range req.Objects {
		call.keys = append(call.keys, o.Key)
		if code := f.rules.keyErrors[o.Key]; code != "" {
			res.Errors = append(res.Errors, keyError{o.Key, code, "refused by the fake"})
			continue
		}
		// As S3 does, a key that is not there is reported deleted.
		delete(f.objects, o.Key)
	}
	f.mu.Unlock()
	f.answer(w, call, xmlReply(200, res))
}

// checkDelete applies the store's rules about a DeleteObjects request's
// checksums.
func (f *fakeS3) checkDelete(h http.Header, body []byte) (reply, bool) {
	if f.rules.refuseDeletes != "" {
		return s3Error(400, f.rules.refuseDeletes), true
	}
	sum := md5.Sum(body)
	md5OK := h.Get("Content-MD5") == base64.StdEncoding.EncodeToString(sum[:])
	if f.rules.requireMD5 && !md5OK {
		return s3Error(400, "MissingContentMD5"), true
	}
	if f.rules.requireCRC32 {
		var c [4]byte
		binary.BigEndian.PutUint32(c[:], crc32.ChecksumIEEE(body))
		if h.Get("X-Amz-Checksum-Crc32") != base64.StdEncoding.EncodeToString(c[:]) {
			return s3Error(400, "InvalidRequest"), true
		}
		if h.Get("Content-MD5") != "" && !md5OK {
			return s3Error(400, "BadDigest"), true
		}
	}
	return reply{}, false
}

func (f *fakeS3) deleteObject(w http.ResponseWriter, key string, call s3Call) {
	call.keys = []string{key}
	if code := f.rules.keyErrors[key]; code != "" {
		f.answer(w, call, s3Error(400, code))
		return
	}
	f.mu.Lock()
	delete(f.objects, key)
	f.mu.Unlock()
	f.answer(w, call, reply{status: http.StatusNoContent})
}

// reply is an answer of the store.
type reply struct {
	status int
	body   []byte
}

func (r reply) write(w http.ResponseWriter) {
	if len(r.body) > 0 {
		w.Header().Set("Content-Type", "application/xml")
	}
	w.WriteHeader(r.status)
	_, _ = w.Write(r.body)
}

func xmlReply(status int, v any) reply {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(v); err != nil {
		panic(fmt.Sprintf("fake S3: %v", err))
	}
	return reply{status: status, body: buf.Bytes()}
}

func s3Error(status int, code string) reply {
	type errorBody struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string
		Message   string
		RequestId string
	}
	return xmlReply(status, errorBody{Code: code, Message: "fake S3 says " + code, RequestId: "fake-1"})
}

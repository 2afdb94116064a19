package s3

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
)

// fakeS3 is a small S3-compatible server for one path-style bucket, with
// the quirks the cases need switched on one by one. It checks no signature;
// versitygw does that in the conformance test.
type fakeS3 struct {
	mu      sync.Mutex
	objects map[string]bool

	// pageSize is the listing page size; 1000 like S3 when zero.
	pageSize int
	// encodeURL honours encoding-type=url as AWS does (form encoding).
	encodeURL bool
	// requireMD5 answers DeleteObjects 400 MissingContentMD5 unless it
	// carries a correct Content-MD5 (older MinIO, OCI, KS3).
	requireMD5 bool
	// requireCRC32 answers DeleteObjects 400 InvalidRequest unless it
	// carries a correct x-amz-checksum-crc32, and BadDigest for a wrong
	// Content-MD5, as AWS does.
	requireCRC32 bool
	// keyErrors makes deletes of these keys fail with the given code: as a
	// per-key <Error> in a 200 DeleteObjects reply, and as the whole reply
	// of a DeleteObject.
	keyErrors map[string]string
	// fail, when set, may answer any request with a whole-request error.
	fail func(op string) *fakeError
	// block, when set, is called as a request arrives and may hold it.
	block func(op string, r *http.Request)

	calls []fakeCall
}

type fakeError struct {
	status     int
	code       string
	retryAfter string
	// raw, when set, is the whole body instead of an S3 <Error>.
	raw string
}

// fakeCall records one request as the store saw it.
type fakeCall struct {
	op       string // ListObjectsV2, DeleteObjects, DeleteObject
	prefix   string
	token    string
	encoding string
	keys     []string
	header   http.Header
	body     []byte
}

func newFakeS3(t *testing.T, f *fakeS3) (*fakeS3, string) {
	t.Helper()
	if f.objects == nil {
		f.objects = map[string]bool{}
	}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	return f, srv.URL
}

func (f *fakeS3) seed(keys ...string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, k := range keys {
		f.objects[k] = true
	}
}

func (f *fakeS3) held(key string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.objects[key]
}

func (f *fakeS3) callsOf(op string) []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeCall
	for _, c := range f.calls {
		if c.op == op {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeS3) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	// r.URL.Path is percent-decoded to the exact key bytes, 0x10 included.
	rest, ok := strings.CutPrefix(r.URL.Path, "/"+bucket)
	if !ok {
		writeError(w, &fakeError{status: 404, code: "NoSuchBucket"})
		return
	}
	q := r.URL.Query()
	var op string
	switch {
	case r.Method == http.MethodGet && q.Get("list-type") == "2" && (rest == "/" || rest == ""):
		op = "ListObjectsV2"
	case r.Method == http.MethodPost && q.Has("delete"):
		op = "DeleteObjects"
	case r.Method == http.MethodDelete && strings.HasPrefix(rest, "/"):
		op = "DeleteObject"
	default:
		writeError(w, &fakeError{status: 501, code: "NotImplemented"})
		return
	}
	if f.block != nil {
		f.block(op, r)
	}
	call := fakeCall{op: op, header: r.Header.Clone(), body: body}
	if e := f.check(op, r, body); e != nil {
		f.record(call)
		writeError(w, e)
		return
	}
	switch op {
	case "ListObjectsV2":
		f.list(w, q, call)
	case "DeleteObjects":
		f.deleteObjects(w, body, call)
	case "DeleteObject":
		f.deleteObject(w, strings.TrimPrefix(rest, "/"), call)
	}
}

func (f *fakeS3) record(c fakeCall) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, c)
}

// check applies the whole-request failures and checksum rules.
func (f *fakeS3) check(op string, r *http.Request, body []byte) *fakeError {
	if f.fail != nil {
		if e := f.fail(op); e != nil {
			return e
		}
	}
	if op != "DeleteObjects" {
		return nil
	}
	sum := md5.Sum(body)
	md5OK := r.Header.Get("Content-MD5") == base64.StdEncoding.EncodeToString(sum[:])
	if f.requireMD5 && !md5OK {
		return &fakeError{status: 400, code: "MissingContentMD5"}
	}
	if f.requireCRC32 {
		var c [4]byte
		binary.BigEndian.PutUint32(c[:], crc32.ChecksumIEEE(body))
		if r.Header.Get("X-Amz-Checksum-Crc32") != base64.StdEncoding.EncodeToString(c[:]) {
			return &fakeError{status: 400, code: "InvalidRequest"}
		}
		if r.Header.Get("Content-MD5") != "" && !md5OK {
			return &fakeError{status: 400, code: "BadDigest"}
		}
	}
	return nil
}

type listResult struct {
	XMLName               xml.Name `xml:"ListBucketResult"`
	Name                  string
	Prefix                string
	KeyCount              int
	MaxKeys               int
	IsTruncated           bool
	EncodingType          string `xml:",omitempty"`
	ContinuationToken     string `xml:",omitempty"`
	NextContinuationToken string `xml:",omitempty"`
	Contents              []struct{ Key string }
}

func (f *fakeS3) list(w http.ResponseWriter, q url.Values, call fakeCall) {
	call.prefix, call.token = q.Get("prefix"), q.Get("continuation-token")
	call.encoding = q.Get("encoding-type")
	f.mu.Lock()
	var keys []string
	for k := range f.objects {
		if strings.HasPrefix(k, call.prefix) {
			keys = append(keys, k)
		}
	}
	f.calls = append(f.calls, call)
	f.mu.Unlock()
	slices.Sort(keys)

	start := 0
	if call.token != "" {
		start, _ = strconv.Atoi(strings.TrimPrefix(call.token, "page-at-"))
	}
	size := f.pageSize
	if size == 0 {
		size = 1000
	}
	end := min(start+size, len(keys))
	res := listResult{Name: bucket, Prefix: call.prefix, MaxKeys: size, KeyCount: end - start,
		ContinuationToken: call.token}
	encode := f.encodeURL && call.encoding == "url"
	if encode {
		res.EncodingType = "url"
	}
	for _, k := range keys[start:end] {
		if encode {
			k = url.QueryEscape(k)
		}
		res.Contents = append(res.Contents, struct{ Key string }{k})
	}
	if end < len(keys) {
		res.IsTruncated, res.NextContinuationToken = true, "page-at-"+strconv.Itoa(end)
	}
	writeXML(w, http.StatusOK, res)
}

type deleteRequest struct {
	Quiet   bool
	Objects []struct{ Key string } `xml:"Object"`
}

type deleteResult struct {
	XMLName xml.Name                              `xml:"DeleteResult"`
	Errors  []struct{ Key, Code, Message string } `xml:"Error"`
}

func (f *fakeS3) deleteObjects(w http.ResponseWriter, body []byte, call fakeCall) {
	var req deleteRequest
	if err := xml.Unmarshal(body, &req); err != nil {
		f.record(call)
		writeError(w, &fakeError{status: 400, code: "MalformedXML"})
		return
	}
	var res deleteResult
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, o := range req.Objects {
		call.keys = append(call.keys, o.Key)
		if code := f.keyErrors[o.Key]; code != "" {
			res.Errors = append(res.Errors,
				struct{ Key, Code, Message string }{o.Key, code, "refused by the fake"})
			continue
		}
		// Like S3: an absent key is reported deleted.
		delete(f.objects, o.Key)
	}
	f.calls = append(f.calls, call)
	writeXML(w, http.StatusOK, res)
}

func (f *fakeS3) deleteObject(w http.ResponseWriter, key string, call fakeCall) {
	call.keys = []string{key}
	f.record(call)
	if code := f.keyErrors[key]; code != "" {
		writeError(w, &fakeError{status: 400, code: code})
		return
	}
	f.mu.Lock()
	delete(f.objects, key)
	f.mu.Unlock()
	w.WriteHeader(http.StatusNoContent)
}

func writeError(w http.ResponseWriter, e *fakeError) {
	if e.retryAfter != "" {
		w.Header().Set("Retry-After", e.retryAfter)
	}
	if e.raw != "" {
		w.WriteHeader(e.status)
		_, _ = io.WriteString(w, e.raw)
		return
	}
	type errorBody struct {
		XMLName   xml.Name `xml:"Error"`
		Code      string
		Message   string
		RequestId string
	}
	writeXML(w, e.status, errorBody{Code: e.code, Message: "fake " + e.code, RequestId: "fake-1"})
}

func writeXML(w http.ResponseWriter, status int, v any) {
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	if err := xml.NewEncoder(&buf).Encode(v); err != nil {
		panic(fmt.Sprintf("fake S3: %v", err))
	}
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

package cloudfront

import (
	"encoding/xml"
	"io"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"

	"github.com/google/uuid"

	"github.com/imgpurge/imgpurge/internal/emulator/fault"
)

// maxBody bounds a request body: 3,000 paths of 4,000 bytes fit well within.
const maxBody = 16 << 20

// apiError is an error answer.
type apiError struct {
	status     int
	code       string
	message    string
	retryAfter string
}

func errorOf(code, message string) *apiError {
	return &apiError{status: statusOf(code), code: code, message: message}
}

// statusOf is the HTTP status CloudFront uses with an error code. The API
// reference does not list them for CreateInvalidation; these follow the
// SDK models and what users report (most client errors are 400).
func statusOf(code string) int {
	switch code {
	case "AccessDenied", "MissingAuthenticationToken", "InvalidClientTokenId",
		"SignatureDoesNotMatch", "RequestExpired":
		return http.StatusForbidden
	case "NoSuchDistribution", "NoSuchInvalidation", "InvalidAction":
		return http.StatusNotFound
	case "InvalidationBatchAlreadyExists":
		return http.StatusConflict
	case "BatchTooLarge":
		return http.StatusRequestEntityTooLarge
	case "InternalError", "InternalFailure":
		return http.StatusInternalServerError
	case "ServiceUnavailable":
		return http.StatusServiceUnavailable
	}
	return http.StatusBadRequest
}

func (e *Emulator) create(w http.ResponseWriter, r *http.Request) {
	call := Call{Operation: "CreateInvalidation", Distribution: r.PathValue("dist")}
	recorded := false
	// A dropped connection reaches the client before a deferred record
	// would run; recording first keeps the calls in the order they came.
	record := func() {
		if !recorded {
			recorded = true
			e.record(call)
		}
	}
	defer record()
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		call.Code = "ReadError"
		return
	}
	call.Body = body
	// Recorded whatever the answer, so a test can compare the reference of
	// a call that a fault cut short with the one of its retry.
	call.CallerReference, call.Paths, _ = parseBatch(body)
	if !e.authenticate(w, r, body, &call) {
		return
	}
	f := e.nextFault()
	if !f.wait(r) {
		call.Code = "ClientGone"
		return
	}
	if e.answerFault(w, r, f, &call, record) {
		return
	}
	inv, aerr := e.accept(call.Distribution, body, &call)
	if aerr != nil {
		e.answerError(w, r, aerr, &call)
		return
	}
	call.InvalidationID = inv.ID
	switch {
	case f.Drop:
		call.Code = "Dropped"
		record()
		fault.Drop(w)
	case f.Malformed:
		call.Status = http.StatusCreated
		record()
		writeMalformed(w, http.StatusCreated)
	default:
		call.Status = http.StatusCreated
		w.Header().Set("Location", location(r, inv.ID))
		e.writeXML(w, http.StatusCreated, inv)
	}
}

// answerFault answers the faults that come before the batch is looked at,
// and reports whether it did.
func (e *Emulator) answerFault(w http.ResponseWriter, r *http.Request, f Fault, call *Call, record func()) bool {
	switch {
	case f.Commit:
		return false
	case f.Drop:
		call.Code = "Dropped"
		record()
		fault.Drop(w)
		return true
	case f.Malformed:
		call.Status = cmp(f.Status, http.StatusInternalServerError)
		record()
		writeMalformed(w, call.Status)
		return true
	case f.Code != "":
		aerr := errorOf(f.Code, f.Message)
		aerr.status = cmp(f.Status, aerr.status)
		aerr.retryAfter = f.RetryAfter
		e.answerError(w, r, aerr, call)
		return true
	}
	return false
}

func cmp(v, def int) int {
	if v != 0 {
		return v
	}
	return def
}

func (e *Emulator) authenticate(w http.ResponseWriter, r *http.Request, body []byte, call *Call) bool {
	h, _ := parseAuthorization(r.Header.Get("Authorization"))
	call.AccessKeyID = h.accessKey
	if aerr := e.verifySignature(r, body); aerr != nil {
		e.answerError(w, r, &apiError{status: aerr.status, code: aerr.code, message: aerr.message}, call)
		return false
	}
	return true
}

func (e *Emulator) answerError(w http.ResponseWriter, r *http.Request, aerr *apiError, call *Call) {
	call.Status, call.Code = aerr.status, aerr.code
	if aerr.retryAfter != "" {
		w.Header().Set("Retry-After", aerr.retryAfter)
	}
	writeError(w, r, aerr.status, aerr.code, aerr.message)
}

func (e *Emulator) get(w http.ResponseWriter, r *http.Request) {
	call := Call{Operation: "GetInvalidation", Distribution: r.PathValue("dist")}
	defer func() { e.record(call) }()
	if !e.authenticate(w, r, nil, &call) {
		return
	}
	e.mu.Lock()
	d, ok := e.dists[call.Distribution]
	var found *Invalidation
	if ok {
		for _, inv := range d.invalidations {
			if inv.ID == r.PathValue("inv") {
				found = inv
			}
		}
	}
	e.mu.Unlock()
	switch {
	case !ok:
		e.answerError(w, r, errorOf("NoSuchDistribution", msgNoDist), &call)
	case found == nil:
		e.answerError(w, r, errorOf("NoSuchInvalidation", "The specified invalidation does not exist."), &call)
	default:
		call.Status, call.InvalidationID = http.StatusOK, found.ID
		e.writeXML(w, http.StatusOK, found)
	}
}

const msgNoDist = "The specified distribution does not exist."

// list answers ListInvalidations, newest first, paged by Marker/MaxItems.
func (e *Emulator) list(w http.ResponseWriter, r *http.Request) {
	call := Call{Operation: "ListInvalidations", Distribution: r.PathValue("dist")}
	defer func() { e.record(call) }()
	if !e.authenticate(w, r, nil, &call) {
		return
	}
	maxItems, err := strconv.Atoi(r.URL.Query().Get("MaxItems"))
	if err != nil || maxItems <= 0 {
		maxItems = 100
	}
	e.mu.Lock()
	d, ok := e.dists[call.Distribution]
	out := listXML{Xmlns: Namespace, Marker: r.URL.Query().Get("Marker"), MaxItems: maxItems}
	if ok {
		now := e.now()
		invs := slices.Clone(d.invalidations)
		slices.Reverse(invs)
		if i := slices.IndexFunc(invs, func(v *Invalidation) bool { return v.ID == out.Marker }); i >= 0 {
			invs = invs[i+1:]
		}
		out.IsTruncated = len(invs) > maxItems
		for _, inv := range invs[:min(len(invs), maxItems)] {
			out.Items = append(out.Items, summaryXML{ID: inv.ID, CreateTime: timeXML(inv.Created),
				Status: inv.status(now)})
		}
		out.Quantity = len(out.Items)
	}
	e.mu.Unlock()
	if !ok {
		e.answerError(w, r, errorOf("NoSuchDistribution", msgNoDist), &call)
		return
	}
	call.Status = http.StatusOK
	writeDoc(w, http.StatusOK, out)
}

func (e *Emulator) writeXML(w http.ResponseWriter, status int, inv *Invalidation) {
	e.mu.Lock()
	doc := inv.xml(e.now())
	e.mu.Unlock()
	writeDoc(w, status, doc)
}

func writeDoc(w http.ResponseWriter, status int, doc any) {
	raw, err := xml.Marshal(doc)
	if err != nil {
		panic(err) // the documents are fixed structs; this cannot fail
	}
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amz-request-id", uuid.NewString())
	w.WriteHeader(status)
	_, _ = w.Write(append([]byte(xml.Header), raw...))
}

func writeError(w http.ResponseWriter, r *http.Request, status int, code, message string) {
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	id := uuid.NewString()
	doc := errorResponseXML{Xmlns: Namespace, RequestID: id,
		Error: errorXML{Type: typ, Code: code, Message: message}}
	raw, _ := xml.Marshal(doc)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("x-amz-request-id", id)
	w.WriteHeader(status)
	if r.Method != http.MethodHead {
		_, _ = w.Write(append([]byte(xml.Header), raw...))
	}
}

func location(r *http.Request, id string) string {
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + r.URL.Path + "/" + id
}

// newInvalidationID returns an id shaped like CloudFront's: "I" and 13
// upper-case letters or digits.
func newInvalidationID() string {
	const chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := []byte{'I'}
	for range 13 {
		b = append(b, chars[rand.IntN(len(chars))])
	}
	return string(b)
}

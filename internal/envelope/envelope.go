// Package envelope writes the JSON envelope of the Remove Image Cache API:
// every response, success or failure, has the same header, and failures
// carry the tracking id and a list of coded errors.
package envelope

import (
	"encoding/json"
	"net/http"
	"time"
)

// Source identifies this API in every envelope.
const Source = "042-02"

// Error codes of the API.
const (
	CodeInvalidRequest   = "40420201"
	CodeInvalidDatastore = "40420202"
	CodeSystemFailure    = "40420290"
	CodeUnknownFailure   = "40420291"
)

// Header is the envelope's header.
type Header struct {
	Source     string  `json:"source"`
	Code       int     `json:"code"`
	Message    string  `json:"message"`
	SystemTime int64   `json:"system_time"`
	TrackingID string  `json:"tracking_id,omitempty"`
	Errors     []Entry `json:"errors,omitempty"`
}

// Entry is one error of a failure envelope.
type Entry struct {
	Code        string `json:"code"`
	Description string `json:"description"`
}

// Envelope is a whole response body. Data is optional and beyond the
// specification; clients that read only the header keep working.
type Envelope struct {
	Header Header `json:"header"`
	Data   any    `json:"data,omitempty"`
}

// Now is the clock of system_time; tests may replace it.
var Now = time.Now

// Success builds a success envelope.
func Success(data any) Envelope {
	return Envelope{
		Header: Header{Source: Source, Code: 0, Message: "Success", SystemTime: Now().UnixMilli()},
		Data:   data,
	}
}

// Failure builds a failure envelope.
func Failure(trackingID string, data any, errs ...Entry) Envelope {
	return Envelope{
		Header: Header{
			Source: Source, Code: -1, Message: "Failure", SystemTime: Now().UnixMilli(),
			TrackingID: trackingID, Errors: errs,
		},
		Data: data,
	}
}

// Write sends env with the given status as application/json.
func Write(w http.ResponseWriter, status int, env Envelope) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	if cw, ok := w.(interface{ SetEnvelopeCode(string) }); ok {
		cw.SetEnvelopeCode(firstCode(env))
	}
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(env)
}

// Fail writes a failure envelope with one error entry.
func Fail(w http.ResponseWriter, status int, trackingID, code, description string) {
	Write(w, status, Failure(trackingID, nil, Entry{Code: code, Description: description}))
}

// firstCode is the code metrics label a response with: "0" for success,
// else the first error's code.
func firstCode(env Envelope) string {
	if len(env.Header.Errors) == 0 {
		return "0"
	}
	return env.Header.Errors[0].Code
}

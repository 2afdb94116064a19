package cloudfront

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// The emulator verifies SigV4 itself, from the specification, rather than
// by re-signing with the SDK's signer: a verifier that shares the client's
// code would accept whatever that code gets wrong.

const (
	sigAlgorithm = "AWS4-HMAC-SHA256"
	sigService   = "cloudfront"
	amzDateFmt   = "20060102T150405Z"
)

// authError is an authentication failure with the code AWS answers.
type authError struct {
	status  int
	code    string
	message string
}

type sigHeader struct {
	accessKey, date, region, service string
	signedHeaders                    []string
	signature                        string
}

func parseAuthorization(v string) (sigHeader, *authError) {
	var h sigHeader
	if v == "" {
		return h, &authError{http.StatusForbidden, "MissingAuthenticationToken",
			"Request is missing Authentication Token"}
	}
	rest, ok := strings.CutPrefix(v, sigAlgorithm+" ")
	if !ok {
		return h, incomplete("Authorization header requires the AWS4-HMAC-SHA256 algorithm")
	}
	fields := map[string]string{}
	for part := range strings.SplitSeq(rest, ",") {
		k, val, _ := strings.Cut(strings.TrimSpace(part), "=")
		fields[k] = val
	}
	cred := strings.Split(fields["Credential"], "/")
	if len(cred) != 5 || cred[4] != "aws4_request" || fields["SignedHeaders"] == "" ||
		fields["Signature"] == "" {
		return h, incomplete("Authorization header requires Credential, SignedHeaders and Signature")
	}
	h = sigHeader{accessKey: cred[0], date: cred[1], region: cred[2], service: cred[3],
		signedHeaders: strings.Split(fields["SignedHeaders"], ";"), signature: fields["Signature"]}
	return h, nil
}

func incomplete(msg string) *authError {
	return &authError{http.StatusBadRequest, "IncompleteSignature", msg}
}

// verifySignature checks r's SigV4 signature over body against creds.
func (e *Emulator) verifySignature(r *http.Request, body []byte) *authError {
	h, aerr := parseAuthorization(r.Header.Get("Authorization"))
	if aerr != nil {
		return aerr
	}
	secret, ok := e.opts.Credentials[h.accessKey]
	if !ok {
		return &authError{http.StatusForbidden, "InvalidClientTokenId",
			"The security token included in the request is invalid."}
	}
	if aerr := e.checkScope(r, h); aerr != nil {
		return aerr
	}
	canonical := canonicalRequest(r, h.signedHeaders, body)
	scope := strings.Join([]string{h.date, h.region, h.service, "aws4_request"}, "/")
	toSign := strings.Join([]string{sigAlgorithm, r.Header.Get("X-Amz-Date"), scope,
		hexSHA256([]byte(canonical))}, "\n")
	key := signingKey(secret, h.date, h.region, h.service)
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(h.signature)) {
		return &authError{http.StatusForbidden, "SignatureDoesNotMatch",
			"The request signature we calculated does not match the signature you provided."}
	}
	return nil
}

func (e *Emulator) checkScope(r *http.Request, h sigHeader) *authError {
	if h.service != sigService {
		return &authError{http.StatusForbidden, "SignatureDoesNotMatch",
			fmt.Sprintf("Credential should be scoped to correct service: '%s'.", sigService)}
	}
	if h.region != e.opts.Region {
		return &authError{http.StatusForbidden, "SignatureDoesNotMatch",
			fmt.Sprintf("Credential should be scoped to a valid region, not '%s'.", h.region)}
	}
	for _, need := range []string{"host", "x-amz-date"} {
		if !slices.Contains(h.signedHeaders, need) {
			return incomplete("SignedHeaders must include " + need)
		}
	}
	signed, err := time.Parse(amzDateFmt, r.Header.Get("X-Amz-Date"))
	if err != nil || signed.Format("20060102") != h.date {
		return incomplete("X-Amz-Date is missing or does not match the credential scope")
	}
	if skew := time.Since(signed).Abs(); e.opts.MaxSkew > 0 && skew > e.opts.MaxSkew {
		return &authError{http.StatusForbidden, "RequestExpired",
			"Signature expired: the request time is too far from the server time."}
	}
	return nil
}

func canonicalRequest(r *http.Request, signed []string, body []byte) string {
	var hdrs strings.Builder
	for _, name := range signed {
		hdrs.WriteString(name + ":" + headerValue(r, name) + "\n")
	}
	return strings.Join([]string{
		r.Method,
		escapeRFC3986(r.URL.EscapedPath(), true),
		canonicalQuery(r.URL.RawQuery),
		hdrs.String(),
		strings.Join(signed, ";"),
		hexSHA256(body),
	}, "\n")
}

// headerValue is a signed header's canonical value: values joined by ",",
// trimmed, inner runs of spaces folded to one.
func headerValue(r *http.Request, name string) string {
	var vals []string
	switch name {
	case "host":
		vals = []string{r.Host}
	case "content-length":
		vals = []string{strconv.FormatInt(r.ContentLength, 10)}
	default:
		vals = r.Header.Values(name)
	}
	for i, v := range vals {
		vals[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(vals, ",")
}

func canonicalQuery(raw string) string {
	q, _ := url.ParseQuery(raw)
	var pairs []string
	for k, vs := range q {
		for _, v := range vs {
			pairs = append(pairs, escapeRFC3986(k, false)+"="+escapeRFC3986(v, false))
		}
	}
	slices.Sort(pairs)
	return strings.Join(pairs, "&")
}

// escapeRFC3986 percent-encodes every byte but the unreserved ones (and "/"
// when keepSlash). Services other than S3 sign the already escaped path
// escaped once more, so "%" itself becomes "%25" here.
func escapeRFC3986(s string, keepSlash bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		unreserved := 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
			c == '-' || c == '_' || c == '.' || c == '~'
		if unreserved || keepSlash && c == '/' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

func signingKey(secret, date, region, service string) []byte {
	k := hmacSHA256([]byte("AWS4"+secret), date)
	k = hmacSHA256(k, region)
	k = hmacSHA256(k, service)
	return hmacSHA256(k, "aws4_request")
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}

func hexSHA256(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

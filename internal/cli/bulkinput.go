package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxField bounds an id or a selector; imgpurged refuses longer ones anyway.
const maxField = 255

// utf8BOM is the byte order mark some editors put at the start of a file.
const utf8BOM = "\ufeff"

// entry is one line of a bulk file that names a purge, well formed or not.
type entry struct {
	line     int
	id       string
	selector string
	// problem says why the line is malformed; "" for a good one.
	problem string
	// text is a malformed line as written, shortened, for the report.
	text string
}

// readEntries reads a bulk file. Blank lines and lines starting with "#"
// are skipped. The whole input is read before the first purge, so the
// total is known for the progress bar and every malformed line is reported
// up front.
//
// Known limitation: input from stdin is read to its end before anything
// runs, so a producer that writes ids slowly delays the first purge; one
// line's worth of memory per id is the price of knowing the total.
func readEntries(from string, stdin io.Reader) ([]entry, error) {
	r := stdin
	if from != "-" {
		f, err := os.Open(from)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r = f
	}
	br := bufio.NewReaderSize(r, 64<<10)
	if err := skipBOM(br); err != nil {
		return nil, err
	}
	var out []entry
	for n := 1; ; n++ {
		line, err := br.ReadString('\n')
		if line != "" {
			if e, ok := parseEntry(n, line); ok {
				out = append(out, e)
			}
		}
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// skipBOM drops a UTF-8 byte order mark at the start of the input: editors
// on Windows write one, and it would otherwise be read as part of the first
// id, which then names no image.
func skipBOM(br *bufio.Reader) error {
	b, err := br.Peek(len(utf8BOM))
	if string(b) == utf8BOM {
		_, err = br.Discard(len(utf8BOM))
		return err
	}
	if errors.Is(err, io.EOF) {
		return nil
	}
	return err
}

// parseEntry reads one line; ok is false for a line to skip.
func parseEntry(n int, line string) (entry, bool) {
	s := strings.TrimSpace(line)
	if s == "" || strings.HasPrefix(s, "#") {
		return entry{}, false
	}
	e := entry{line: n}
	fields := strings.Fields(s)
	e.id = fields[0]
	if len(fields) > 1 {
		e.selector = fields[1]
	}
	e.problem = lineProblem(s, fields)
	if e.problem != "" {
		e.text = s
		if len(e.text) > 200 {
			e.text = e.text[:200] + "…"
		}
	}
	return e, true
}

func lineProblem(s string, fields []string) string {
	if !utf8.ValidString(s) {
		return "not valid UTF-8"
	}
	if len(fields) > 2 {
		return fmt.Sprintf(`expected "ID [SELECTOR]", found %d fields`, len(fields))
	}
	for _, f := range fields {
		switch {
		case len(f) > maxField:
			return fmt.Sprintf("a field is longer than %d bytes", maxField)
		case strings.ContainsRune(f, '/'):
			// An id or a selector never holds "/"; such a line is most
			// likely a URL or a path pasted by mistake.
			return `a field contains "/"`
		case strings.ContainsFunc(f, unicode.IsControl):
			return "a field contains a control character"
		}
	}
	return ""
}

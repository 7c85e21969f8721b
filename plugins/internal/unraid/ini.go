package unraid

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// MaxFileSize bounds what Parse reads: emhttpd's files are a few KiB; a
// larger file is not one of them.
const MaxFileSize = 4 << 20

// ParseError is a malformed line in an ini file.
type ParseError struct {
	File string // path or name given to Parse
	Line int    // 1-based
	Msg  string
}

func (e *ParseError) Error() string {
	return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
}

// Section is one ["name"] block, or the unnamed top of the file (Name "").
type Section struct {
	Name string
	keys []string
	vals map[string]string
}

// Get returns the value of key and whether it was present.
func (s *Section) Get(key string) (string, bool) {
	if s == nil {
		return "", false
	}
	v, ok := s.vals[key]
	return v, ok
}

// String returns the value of key, "" when missing.
func (s *Section) String(key string) string {
	v, _ := s.Get(key)
	return v
}

// Int returns key as an integer; missing, empty or malformed values give def.
func (s *Section) Int(key string, def int64) int64 {
	v, ok := s.Get(key)
	if !ok {
		return def
	}
	n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return def
	}
	return n
}

// Uint returns key as an unsigned integer; missing, empty, negative or
// malformed values give def.
func (s *Section) Uint(key string, def uint64) uint64 {
	v, ok := s.Get(key)
	if !ok {
		return def
	}
	n, err := strconv.ParseUint(strings.TrimSpace(v), 10, 64)
	if err != nil {
		return def
	}
	return n
}

// Keys returns the keys in file order.
func (s *Section) Keys() []string { return append([]string(nil), s.keys...) }

func (s *Section) set(k, v string) {
	if _, ok := s.vals[k]; !ok {
		s.keys = append(s.keys, k)
	}
	s.vals[k] = v // a repeated key keeps the last value, as PHP does
}

// File is a parsed ini file: the unnamed global section and the named
// sections in file order.
type File struct {
	Global   *Section
	Sections []*Section
}

// Section returns the named section or nil.
func (f *File) Section(name string) *Section {
	for _, s := range f.Sections {
		if s.Name == name {
			return s
		}
	}
	return nil
}

func newSection(name string) *Section {
	return &Section{Name: name, vals: map[string]string{}}
}

// ReadFile parses the ini file at path.
func ReadFile(path string) (*File, error) {
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer fh.Close()
	return Parse(path, fh)
}

// Parse reads Unraid's ini dialect (what emhttpd writes and PHP's
// parse_ini_file reads): key=value or key="value" lines, section headers
// ["name"] or [name], comments starting with ';' or '#', blank lines, LF
// or CRLF line ends. A repeated key keeps its last value, a repeated
// section is merged. Any other line is an error naming the file and line.
// Parse never panics.
func Parse(name string, r io.Reader) (*File, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("read %s: larger than %d bytes", name, MaxFileSize)
	}
	data = bytes.TrimPrefix(data, []byte("\xef\xbb\xbf")) // UTF-8 BOM
	f := &File{Global: newSection("")}
	cur := f.Global
	sc := bufio.NewScanner(bytes.NewReader(data))
	// The whole file is in data already: a buffer of its size holds any
	// line, where a fixed 64 KiB one cost every parse of a 300-byte file.
	sc.Buffer(make([]byte, 0, len(data)+1), MaxFileSize)
	line := 0
	for sc.Scan() {
		line++
		text := strings.TrimSpace(strings.TrimSuffix(sc.Text(), "\r"))
		if text == "" || text[0] == ';' || text[0] == '#' {
			continue
		}
		if text[0] == '[' {
			sec, err := parseHeader(text)
			if err != nil {
				return nil, &ParseError{File: name, Line: line, Msg: err.Error()}
			}
			if s := f.Section(sec); s != nil {
				cur = s
			} else {
				cur = newSection(sec)
				f.Sections = append(f.Sections, cur)
			}
			continue
		}
		k, v, err := parsePair(text)
		if err != nil {
			return nil, &ParseError{File: name, Line: line, Msg: err.Error()}
		}
		cur.set(k, v)
	}
	if err := sc.Err(); err != nil {
		return nil, &ParseError{File: name, Line: line + 1, Msg: err.Error()}
	}
	return f, nil
}

func parseHeader(text string) (string, error) {
	if !strings.HasSuffix(text, "]") || len(text) < 2 {
		return "", fmt.Errorf("section header %q has no closing ']'", clip(text))
	}
	inner := strings.TrimSpace(text[1 : len(text)-1])
	if strings.HasPrefix(inner, `"`) {
		if len(inner) < 2 || !strings.HasSuffix(inner, `"`) {
			return "", fmt.Errorf("section header %q has an unterminated quote", clip(text))
		}
		inner = inner[1 : len(inner)-1]
	}
	if inner == "" {
		return "", fmt.Errorf("empty section name")
	}
	return inner, nil
}

func parsePair(text string) (string, string, error) {
	eq := strings.IndexByte(text, '=')
	if eq < 0 {
		return "", "", fmt.Errorf("line %q is not key=value", clip(text))
	}
	key := strings.TrimSpace(text[:eq])
	if key == "" {
		return "", "", fmt.Errorf("line %q has an empty key", clip(text))
	}
	if strings.ContainsAny(key, `"[]`) {
		return "", "", fmt.Errorf("key %q has a forbidden character", clip(key))
	}
	val := strings.TrimSpace(text[eq+1:])
	if strings.HasPrefix(val, `"`) {
		// Quoted: everything up to the last quote on the line. emhttpd does
		// not escape inner quotes, so the last quote closes the value;
		// a trailing comment after it is allowed.
		end := strings.LastIndexByte(val, '"')
		if end == 0 {
			return "", "", fmt.Errorf("value of %q has an unterminated quote", clip(key))
		}
		rest := strings.TrimSpace(val[end+1:])
		if rest != "" && rest[0] != ';' && rest[0] != '#' {
			return "", "", fmt.Errorf("text %q after the quoted value of %q", clip(rest), clip(key))
		}
		return key, val[1:end], nil
	}
	// Unquoted: an inline ';' starts a comment, as in PHP.
	if i := strings.IndexByte(val, ';'); i >= 0 {
		val = strings.TrimSpace(val[:i])
	}
	return key, val, nil
}

func clip(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

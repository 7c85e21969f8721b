package api

import (
	"net/http/httptest"
	"strings"
	"testing"
)

// The action body parser never panics; what it accepts is a flat map of
// strings, and it refuses bodies over the limit.
func FuzzActionParams(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"confirm":true}`, `{"n":1.5,"s":"x"}`, `{"a":{"b":1}}`, `[1]`, `null`, `{"confirm":`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		r := httptest.NewRequest("POST", "/api/v1/vm/x/reset", strings.NewReader(body))
		params, _, _, err := actionParams(r)
		if err != nil {
			return
		}
		if len(body) > maxBodyLength {
			t.Fatalf("accepted a body of %d bytes", len(body))
		}
		if params == nil {
			t.Fatal("nil params without an error")
		}
	})
}

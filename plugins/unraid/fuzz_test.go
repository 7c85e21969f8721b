package main

import (
	"os"
	"path/filepath"
	"testing"
)

// The parsers of files other programs write never panic, whatever the input.

func FuzzParseParityLine(f *testing.F) {
	f.Add("2025 Jun  1 03:12:44|50732|157.7 MB/s|0|0|check P Q|7814026584")
	f.Add("2024 Jan 5 03:00:01|100|104857600|-4|3")
	f.Add("||||||||")
	f.Fuzz(func(t *testing.T, line string) {
		r, ok := parseParityLine(line)
		if !ok && r != (ParityRecord{}) {
			t.Errorf("rejected line gave a record: %+v", r)
		}
	})
}

func FuzzReadNotify(f *testing.F) {
	f.Add([]byte("timestamp=1763899200\nevent=\"Unraid Status\"\nsubject=\"a \\\"b\\\"\"\nimportance=\"alert\"\n"))
	f.Add([]byte("timestamp=2025-01-02 03:04:05\ndescription=x;y\n"))
	f.Add([]byte("no equals\n"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "x.notify")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		n, err := readNotify(p, "unread")
		if err == nil && (n.ID != "x.notify" || n.Importance == "" || n.Timestamp == "") {
			t.Errorf("parsed notification lacks fields: %+v", n)
		}
	})
}

func FuzzMoverDate(f *testing.F) {
	f.Add("mover: Started (Mon Nov 24 03:40:01 2025)")
	f.Add("Finished ()(")
	f.Fuzz(func(_ *testing.T, line string) { _ = moverDate(line) })
}

package main

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/towerd/towerd/sdk/schema"
)

// lineReader feeds readNUTList from text, like nutConn.readLine.
func lineReader(text string) func() (string, error) {
	sc := bufio.NewScanner(strings.NewReader(text))
	return func() (string, error) {
		if sc.Scan() {
			return sc.Text(), nil
		}
		return "", io.ErrUnexpectedEOF
	}
}

func TestSplitNUT(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  bool
	}{
		{`VAR dummy battery.charge "61"`, []string{"VAR", "dummy", "battery.charge", "61"}, false},
		{`VAR dummy ups.status "OB DISCHRG"`, []string{"VAR", "dummy", "ups.status", "OB DISCHRG"}, false},
		{`UPS dummy "towerd \"capture\" UPS"`, []string{"UPS", "dummy", `towerd "capture" UPS`}, false},
		{`VAR u x "a\\b"`, []string{"VAR", "u", "x", `a\b`}, false},
		{`VAR u x ""`, []string{"VAR", "u", "x", ""}, false},
		{"ERR UNKNOWN-UPS", []string{"ERR", "UNKNOWN-UPS"}, false},
		{"  spaced\twords  ", []string{"spaced", "words"}, false},
		{"", nil, false},
		{`VAR u x "open`, nil, true},
		{`VAR u x "ends with backslash\`, nil, true},
	} {
		got, err := splitNUT(tc.in)
		if (err != nil) != tc.err || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("splitNUT(%q) = %q, %v; want %q, err=%v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

// TestNUTCapture parses the reply stream of a real upsd.
func TestNUTCapture(t *testing.T) {
	b, err := os.ReadFile("testdata/upsd-nut-2.8.0-dummy.txt")
	if err != nil {
		t.Fatal(err)
	}
	next := lineReader(string(b))
	ups, err := readNUTList(next, "UPS")
	if err != nil {
		t.Fatal(err)
	}
	if names := parseUPSList(ups); !reflect.DeepEqual(names, []string{"dummy"}) {
		t.Fatalf("LIST UPS names = %q", names)
	}
	lines, err := readNUTList(next, "VAR dummy")
	if err != nil {
		t.Fatal(err)
	}
	vars := parseVarList("dummy", lines)
	if len(vars) != 19 || vars["ups.status"] != "OB DISCHRG" || vars["device.model"] != "Back-UPS XS 1500G" {
		t.Fatalf("LIST VAR: %d vars %v", len(vars), vars)
	}
	got := fromNUT(vars)
	want := schema.UPS{Connected: true, Model: "Back-UPS XS 1500G", Status: "ONBATT",
		BatteryChargePercent: 61, BatteryRuntimeSeconds: 1260, RuntimeLeftSeconds: 1260,
		LoadPercent: 23, InputVoltage: 0, OutputVoltage: 229.8, NominalPowerWatts: 900, PowerWatts: 207}
	if got != want {
		t.Fatalf("fromNUT\n got %+v\nwant %+v", got, want)
	}
	for _, wantErr := range []string{"UNKNOWN-UPS", "INVALID-ARGUMENT"} {
		_, err := readNUTList(next, "VAR nosuch")
		var e *errNUT
		if !errors.As(err, &e) || e.code != wantErr {
			t.Fatalf("want ERR %s, got %v", wantErr, err)
		}
	}

	b, err = os.ReadFile("testdata/upsd-nut-2.8.0-wait.txt")
	if err != nil {
		t.Fatal(err)
	}
	next = lineReader(string(b))
	if _, err := readNUTList(next, "UPS"); err != nil {
		t.Fatal(err)
	}
	lines, err = readNUTList(next, "VAR dummy")
	if err != nil {
		t.Fatal(err)
	}
	if u := fromNUT(parseVarList("dummy", lines)); u.Connected || u.Status != "WAIT" {
		t.Fatalf("driver still starting: got %+v, want connected=false status WAIT", u)
	}
}

func TestReadNUTListErrors(t *testing.T) {
	for _, tc := range []struct{ name, in string }{
		{"ERR reply", "ERR ACCESS-DENIED\n"},
		{"no BEGIN", "VAR u a \"1\"\n"},
		{"wrong BEGIN", "BEGIN LIST VAR other\nEND LIST VAR other\n"},
		{"no END", "BEGIN LIST VAR u\nVAR u a \"1\"\n"},
		{"bad quote", "BEGIN LIST VAR u\nVAR u a \"1\nEND LIST VAR u\n"},
		{"ERR inside", "BEGIN LIST VAR u\nERR DATA-STALE\nEND LIST VAR u\n"},
		{"too many lines", "BEGIN LIST VAR u\n" + strings.Repeat("VAR u a \"1\"\n", nutMaxLines+1) + "END LIST VAR u\n"},
	} {
		if _, err := readNUTList(lineReader(tc.in), "VAR u"); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
	_, err := readNUTList(lineReader("ERR DATA-STALE\n"), "VAR u")
	if !nutStale(err) {
		t.Errorf("DATA-STALE not seen as stale: %v", err)
	}
}

func TestNUTStatus(t *testing.T) {
	for in, want := range map[string]string{
		"OL": "ONLINE", "OL CHRG": "ONLINE", "OB": "ONBATT", "OB DISCHRG": "ONBATT",
		"OB LB": "LOWBATT", "LB OB DISCHRG": "LOWBATT", "OL LB CHRG": "LOWBATT",
		"OFF": "OFF", "BYPASS OVER": "BYPASS OVER", "": "UNKNOWN", "WAIT": "WAIT",
	} {
		if got := nutStatus(in); got != want {
			t.Errorf("nutStatus(%q) = %q, want %q", in, got, want)
		}
	}
}

// nisFrames frames text lines as an apcupsd NIS reply.
func nisFrames(lines []string) []byte {
	var b bytes.Buffer
	for _, l := range lines {
		binary.Write(&b, binary.BigEndian, uint16(len(l)+1))
		b.WriteString(l + "\n")
	}
	b.Write([]byte{0, 0})
	return b.Bytes()
}

func TestAPCCaptures(t *testing.T) {
	raw, err := os.ReadFile("testdata/apcupsd-3.14.14-test-driver.nis")
	if err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile("testdata/apcaccess-backups-onbatt.txt")
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		in   []byte
		recs int
		want schema.UPS
	}{
		{"real apcupsd test driver", raw, 59, schema.UPS{Connected: true, Model: "Test Driver", Status: "ONLINE",
			BatteryChargePercent: 100, BatteryRuntimeSeconds: 72000, RuntimeLeftSeconds: 72000,
			LoadPercent: 40.5, InputVoltage: 229.5, OutputVoltage: 228.5}},
		{"Back-UPS on battery", nisFrames(strings.Split(strings.TrimSpace(string(text)), "\n")), 37, schema.UPS{
			Connected: true, Model: "Back-UPS RS 1500G", Status: "ONBATT",
			BatteryChargePercent: 83, BatteryRuntimeSeconds: 2310, RuntimeLeftSeconds: 2310,
			LoadPercent: 17, InputVoltage: 0, NominalPowerWatts: 865, PowerWatts: 147.05}},
	} {
		recs, err := readNIS(bytes.NewReader(tc.in))
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if len(recs) != tc.recs {
			t.Errorf("%s: %d records, want %d", tc.name, len(recs), tc.recs)
		}
		if got := fromAPC(recs); got != tc.want {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

func TestAPCStatus(t *testing.T) {
	for _, tc := range []struct {
		in, want  string
		connected bool
	}{
		{"ONLINE", "ONLINE", true}, {"ONLINE NOBATT", "ONLINE", true}, {"ONBATT", "ONBATT", true},
		{"ONBATT LOWBATT", "LOWBATT", true}, {"ONLINE LOWBATT", "LOWBATT", true},
		{"COMMLOST", "COMMLOST", false}, {"SHUTTING DOWN", "SHUTTING DOWN", true}, {"", "UNKNOWN", true},
	} {
		got, conn := apcStatus(tc.in)
		if got != tc.want || conn != tc.connected {
			t.Errorf("apcStatus(%q) = %q,%v; want %q,%v", tc.in, got, conn, tc.want, tc.connected)
		}
	}
}

func TestReadNISErrors(t *testing.T) {
	big := make([]byte, 0, 70000)
	for i := 0; i < 2; i++ {
		big = binary.BigEndian.AppendUint16(big, 0xffff)
		big = append(big, bytes.Repeat([]byte("x"), 0xffff)...)
	}
	var many []byte
	for i := 0; i <= nisMaxRecords+1; i++ {
		many = append(many, 0, 2, 'a', '\n')
	}
	for _, tc := range []struct {
		name string
		in   []byte
	}{
		{"empty", nil},
		{"half length", []byte{0}},
		{"short record", []byte{0, 10, 'S', 'T'}},
		{"no terminator", []byte{0, 3, 'a', ':', 'b'}},
		{"too big", big},
		{"too many records", many},
	} {
		if _, err := readNIS(bytes.NewReader(tc.in)); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}

func FuzzSplitNUT(f *testing.F) {
	b, _ := os.ReadFile("testdata/upsd-nut-2.8.0-dummy.txt")
	for _, l := range strings.Split(string(b), "\n") {
		f.Add(l)
	}
	f.Fuzz(func(t *testing.T, line string) {
		words, err := splitNUT(line)
		if err != nil {
			return
		}
		// Quoting every word and splitting again gives the same words.
		var q []string
		for _, w := range words {
			q = append(q, nutQuote(w))
		}
		again, err := splitNUT(strings.Join(q, " "))
		if err != nil || !reflect.DeepEqual(again, words) && len(words) > 0 {
			t.Fatalf("round trip of %q: %q, %v", words, again, err)
		}
	})
}

func FuzzReadNUTList(f *testing.F) {
	for _, p := range []string{"testdata/upsd-nut-2.8.0-dummy.txt", "testdata/upsd-nut-2.8.0-wait.txt"} {
		b, _ := os.ReadFile(p)
		f.Add(string(b))
	}
	f.Fuzz(func(t *testing.T, text string) {
		next := lineReader(text)
		if lines, err := readNUTList(next, "UPS"); err == nil {
			_ = parseUPSList(lines)
		}
		if lines, err := readNUTList(next, "VAR dummy"); err == nil {
			u := fromNUT(parseVarList("dummy", lines))
			if u.BatteryRuntimeSeconds != u.RuntimeLeftSeconds {
				t.Fatalf("runtime fields differ: %+v", u)
			}
		}
	})
}

func FuzzReadNIS(f *testing.F) {
	b, _ := os.ReadFile("testdata/apcupsd-3.14.14-test-driver.nis")
	f.Add(b)
	f.Add([]byte{0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		recs, err := readNIS(bytes.NewReader(data))
		if err != nil {
			return
		}
		if len(recs) > nisMaxRecords {
			t.Fatalf("%d records", len(recs))
		}
		_ = fromAPC(recs)
	})
}

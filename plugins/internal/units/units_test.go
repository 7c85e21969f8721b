package units

import "testing"

func TestBytes(t *testing.T) {
	for _, tc := range []struct {
		in   uint64
		want string
	}{
		{0, "0 B"},
		{1023, "1023 B"},
		{1024, "1.0 KiB"},
		{1536, "1.5 KiB"},
		{512 << 20, "512.0 MiB"},
		{2 << 30, "2.0 GiB"},
		{1<<20 - 1, "1.0 MiB"},
		{53687091200, "50.0 GiB"},
		{1 << 62, "4.0 EiB"},
		{^uint64(0), "16.0 EiB"},
	} {
		if got := Bytes(tc.in); got != tc.want {
			t.Errorf("Bytes(%d) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestUsage(t *testing.T) {
	if got, want := Usage(512<<20, 2<<30), "512.0 MiB / 2.0 GiB"; got != want {
		t.Errorf("Usage = %q, want %q", got, want)
	}
}

// Values as nvidia-smi, upsd and apcupsd print them.
func TestLeading(t *testing.T) {
	for in, want := range map[string]float64{
		"40 C": 40, "8.93 W": 8.93, "3 %": 3, "-7 C": -7,
		"229.5 Volts": 229.5, "1200.0 Minutes": 1200, "61": 61, " 3 ": 3,
	} {
		if got, ok := Leading(in); !ok || got != want {
			t.Errorf("Leading(%q) = %v,%v, want %v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "N/A", "[N/A]", "[Not Supported]", "Requested functionality has been deprecated", "NaN", "NaN W", "Inf", "x1"} {
		if _, ok := Leading(in); ok {
			t.Errorf("Leading(%q) ok", in)
		}
	}
}

func TestRateAndDuration(t *testing.T) {
	for in, want := range map[uint64]string{0: "0 B/s", 999: "999 B/s", 1000: "1.0 KB/s", 189952000: "190.0 MB/s",
		152300000: "152.3 MB/s", 999960000: "1.0 GB/s"} {
		if got := Rate(in); got != want {
			t.Errorf("Rate(%d) = %q, want %q", in, got, want)
		}
	}
	for in, want := range map[int64]string{-5: "0s", 42: "42s", 60: "1m", 4980: "1h 23m", 25274: "7h 1m", 90061: "1d 1h 1m"} {
		if got := Duration(in); got != want {
			t.Errorf("Duration(%d) = %q, want %q", in, got, want)
		}
	}
}

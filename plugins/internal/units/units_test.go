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

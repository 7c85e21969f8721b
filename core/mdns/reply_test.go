package mdns

import (
	"net"
	"slices"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

func testResponder(t testing.TB) *responder {
	t.Helper()
	r := &responder{svc: Service{Instance: "Tower Lab", Host: "tower", Port: 8043, TXT: []string{"version=1", "path=/api/v1", "name=tower", "scheme=http"}}}
	if err := r.setNames(); err != nil {
		t.Fatal(err)
	}
	return r
}

func query(t testing.TB, id uint16, name string, typ dnsmessage.Type, qu bool) []byte {
	t.Helper()
	class := dnsmessage.ClassINET
	if qu {
		class |= quBit
	}
	b, err := (&dnsmessage.Message{Header: dnsmessage.Header{ID: id},
		Questions: []dnsmessage.Question{{Name: dnsmessage.MustNewName(name), Type: typ, Class: class}}}).Pack()
	if err != nil {
		t.Fatal(err)
	}
	return b
}

var (
	peer   = &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: mdnsPort}
	legacy = &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: 40000}
	ips    = []net.IP{net.IPv4(10, 0, 0, 1).To4()}
)

// What each kind of question gets, and where it goes.
func TestReply(t *testing.T) {
	r := testResponder(t)
	const svc, inst, host = "_unraid-mgmt-agent._tcp.local.", "Tower Lab._unraid-mgmt-agent._tcp.local.", "tower.local."
	cases := []struct {
		name      string
		pkt       []byte
		src       *net.UDPAddr
		answers   []dnsmessage.Type
		extra     int
		toGroup   bool
		echoID    bool
		noAnswers bool
	}{
		{"browse", query(t, 0, svc, dnsmessage.TypePTR, false), peer, []dnsmessage.Type{dnsmessage.TypePTR}, 3, true, false, false},
		{"browse QU", query(t, 0, svc, dnsmessage.TypePTR, true), peer, []dnsmessage.Type{dnsmessage.TypePTR}, 3, false, false, false},
		{"legacy", query(t, 77, svc, dnsmessage.TypePTR, false), legacy, []dnsmessage.Type{dnsmessage.TypePTR}, 0, false, true, false},
		{"resolve", query(t, 0, inst, dnsmessage.TypeALL, false), peer, []dnsmessage.Type{dnsmessage.TypeSRV, dnsmessage.TypeTXT}, 1, true, false, false},
		{"host", query(t, 0, host, dnsmessage.TypeA, false), peer, []dnsmessage.Type{dnsmessage.TypeA}, 0, true, false, false},
		{"enumerate", query(t, 0, "_services._dns-sd._udp.local.", dnsmessage.TypePTR, false), peer, []dnsmessage.Type{dnsmessage.TypePTR}, 0, true, false, false},
		{"case-insensitive", query(t, 0, "_UNRAID-MGMT-AGENT._tcp.local.", dnsmessage.TypePTR, false), peer, []dnsmessage.Type{dnsmessage.TypePTR}, 3, true, false, false},
		{"other service", query(t, 0, "_http._tcp.local.", dnsmessage.TypePTR, false), peer, nil, 0, false, false, true},
		{"AAAA of host", query(t, 0, host, dnsmessage.TypeAAAA, false), peer, nil, 0, false, false, true},
	}
	for _, c := range cases {
		h, qs, ok := parseQuery(c.pkt)
		if !ok {
			t.Fatalf("%s: not parsed", c.name)
		}
		msg, to := r.reply(h, qs, c.src, ips)
		if c.noAnswers {
			if msg != nil {
				t.Errorf("%s: answered %+v", c.name, msg)
			}
			continue
		}
		if msg == nil {
			t.Fatalf("%s: no answer", c.name)
		}
		var types []dnsmessage.Type
		for _, a := range msg.Answers {
			types = append(types, a.Header.Type)
			if c.echoID && a.Header.Class&cacheFlush != 0 {
				t.Errorf("%s: cache-flush bit in a legacy answer", c.name)
			}
		}
		b, err := msg.Pack()
		if err != nil {
			t.Fatalf("%s: pack: %v", c.name, err)
		}
		var back dnsmessage.Message
		if err := back.Unpack(b); err != nil {
			t.Fatalf("%s: unpack: %v", c.name, err)
		}
		types = types[:0]
		for _, a := range back.Answers {
			types = append(types, a.Header.Type)
		}
		if !slices.Equal(types, c.answers) || len(back.Additionals) != c.extra {
			t.Errorf("%s: answers %v + %d additionals, want %v + %d", c.name, types, len(back.Additionals), c.answers, c.extra)
		}
		if (to == groupAddr) != c.toGroup {
			t.Errorf("%s: sent to %v", c.name, to)
		}
		if c.echoID && (back.Header.ID != 77 || len(back.Questions) != 1) {
			t.Errorf("%s: id %d, %d questions; want the query's", c.name, back.Header.ID, len(back.Questions))
		}
		for _, a := range back.Answers {
			if txt, ok := a.Body.(*dnsmessage.TXTResource); ok && !slices.Equal(txt.TXT, r.svc.TXT) {
				t.Errorf("%s: TXT %q", c.name, txt.TXT)
			}
		}
	}
	if _, _, ok := parseQuery([]byte{1, 2, 3}); ok {
		t.Error("a 3-byte packet parsed")
	}
}

// Whatever arrives on 5353, parsing and answering neither panic nor build
// a message that cannot be packed.
func FuzzReply(f *testing.F) {
	r := testResponder(f)
	f.Add(query(f, 0, "_unraid-mgmt-agent._tcp.local.", dnsmessage.TypePTR, false), uint16(mdnsPort))
	f.Add(query(f, 9, "Tower Lab._unraid-mgmt-agent._tcp.local.", dnsmessage.TypeALL, true), uint16(40000))
	f.Add(query(f, 0, "tower.local.", dnsmessage.TypeA, false), uint16(mdnsPort))
	f.Add([]byte{}, uint16(mdnsPort))
	f.Fuzz(func(t *testing.T, pkt []byte, port uint16) {
		h, qs, ok := parseQuery(pkt)
		if !ok || !r.asksForUs(qs) {
			return
		}
		msg, _ := r.reply(h, qs, &net.UDPAddr{IP: net.IPv4(10, 0, 0, 2), Port: int(port)}, ips)
		if msg == nil {
			return
		}
		if _, err := msg.Pack(); err != nil {
			t.Fatalf("answer does not pack: %v", err)
		}
	})
}

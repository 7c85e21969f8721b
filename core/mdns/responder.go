package mdns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

const (
	mdnsPort = 5353
	// TTLs recommended by RFC 6762 §10: host records 120 s, others 75 min.
	hostTTL    = 120
	serviceTTL = 4500
	// cacheFlush marks a record set this responder alone owns (§10.2).
	cacheFlush = 1 << 15
	// quBit in a question's class asks for a unicast answer (§5.4).
	quBit = 1 << 15
)

var groupAddr = &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: mdnsPort}

// responder is the builtin announcer (see the package comment).
type responder struct {
	svc  Service
	log  hclog.Logger
	conn *net.UDPConn
	pc   *ipv4.PacketConn
	nl   *os.File // netlink socket for address changes; nil if none

	svcName, instName, hostName, enumName dnsmessage.Name

	mu     sync.Mutex
	joined map[int]bool // interface indexes joined to the group

	changed chan struct{}
	done    chan struct{}
	wg      sync.WaitGroup
	once    sync.Once
}

func startResponder(svc Service, opts Options) (Announcer, error) {
	r := &responder{svc: svc, log: opts.Logger, joined: map[int]bool{},
		changed: make(chan struct{}, 1), done: make(chan struct{})}
	if err := r.setNames(); err != nil {
		return nil, err
	}

	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			// Share 5353 with any other responder on this host.
			if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); serr != nil {
				return
			}
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp4", fmt.Sprintf("0.0.0.0:%d", mdnsPort))
	if err != nil {
		return nil, fmt.Errorf("mdns: listen on udp 5353: %w", err)
	}
	r.conn = pc.(*net.UDPConn)
	r.pc = ipv4.NewPacketConn(r.conn)
	_ = r.pc.SetControlMessage(ipv4.FlagInterface|ipv4.FlagDst, true)
	_ = r.pc.SetMulticastTTL(255) // RFC 6762 §11
	_ = r.pc.SetMulticastLoopback(true)
	if r.joinAll() == 0 {
		r.log.Warn("mDNS: no multicast interface to announce on yet; waiting for one")
	}
	r.nl = subscribeAddrChanges()

	r.wg.Add(2)
	go r.serve()
	go r.announceLoop()
	if r.nl != nil {
		r.wg.Add(1)
		go r.watchAddrs()
	}
	r.log.Info("mDNS responder announcing", "type", ServiceType, "instance", svc.Instance, "host", svc.Host+".local", "port", svc.Port)
	return r, nil
}

func (r *responder) Mode() string { return ModeBuiltin }

// setNames builds the DNS names of the service's records.
func (r *responder) setNames() error {
	var err error
	if r.svcName, err = dnsmessage.NewName(ServiceType + ".local."); err != nil {
		return err
	}
	if r.instName, err = dnsmessage.NewName(r.svc.Instance + "." + ServiceType + ".local."); err != nil {
		return fmt.Errorf("mdns: instance name %q: %w", r.svc.Instance, err)
	}
	if r.hostName, err = dnsmessage.NewName(r.svc.Host + ".local."); err != nil {
		return fmt.Errorf("mdns: host name %q: %w", r.svc.Host, err)
	}
	r.enumName = dnsmessage.MustNewName("_services._dns-sd._udp.local.")
	return nil
}

// interfaces returns the up, multicast, non-loopback interfaces to
// announce on, with their IPv4 addresses (only the bound one when bound).
func (r *responder) interfaces() map[int][]net.IP {
	out := map[int][]net.IP{}
	ifs, err := net.Interfaces()
	if err != nil {
		return out
	}
	bound := r.svc.Bind != nil && !r.svc.Bind.IsUnspecified()
	for _, ifi := range ifs {
		if ifi.Flags&net.FlagUp == 0 || ifi.Flags&net.FlagMulticast == 0 || ifi.Flags&net.FlagLoopback != 0 {
			continue
		}
		addrs, _ := ifi.Addrs()
		var ips []net.IP
		for _, a := range addrs {
			ipn, ok := a.(*net.IPNet)
			if !ok || ipn.IP.To4() == nil || ipn.IP.IsLoopback() {
				continue
			}
			if bound && !ipn.IP.Equal(r.svc.Bind) {
				continue
			}
			ips = append(ips, ipn.IP.To4())
		}
		if len(ips) > 0 {
			out[ifi.Index] = ips
		}
	}
	return out
}

// joinAll joins the group on every interface not joined yet; it returns
// how many interfaces are joined.
func (r *responder) joinAll() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	for idx := range r.interfaces() {
		if r.joined[idx] {
			continue
		}
		ifi, err := net.InterfaceByIndex(idx)
		if err != nil {
			continue
		}
		if err := r.pc.JoinGroup(ifi, groupAddr); err != nil && !errors.Is(err, syscall.EADDRINUSE) {
			r.log.Debug("mDNS: join group", "interface", ifi.Name, "error", err)
			continue
		}
		r.joined[idx] = true
	}
	return len(r.joined)
}

// records builds the answer set for the addresses of one interface; ttl 0
// makes a goodbye.
func (r *responder) records(ips []net.IP, ttl uint32) (ptr, srv, txt dnsmessage.Resource, as []dnsmessage.Resource) {
	hostTTL := min(ttl, hostTTL)
	ptr = dnsmessage.Resource{
		Header: dnsmessage.ResourceHeader{Name: r.svcName, Class: dnsmessage.ClassINET, TTL: ttl},
		Body:   &dnsmessage.PTRResource{PTR: r.instName},
	}
	srv = dnsmessage.Resource{
		Header: dnsmessage.ResourceHeader{Name: r.instName, Class: dnsmessage.ClassINET | cacheFlush, TTL: hostTTL},
		Body:   &dnsmessage.SRVResource{Port: uint16(r.svc.Port), Target: r.hostName},
	}
	txt = dnsmessage.Resource{
		Header: dnsmessage.ResourceHeader{Name: r.instName, Class: dnsmessage.ClassINET | cacheFlush, TTL: ttl},
		Body:   &dnsmessage.TXTResource{TXT: r.txt()},
	}
	for _, ip := range ips {
		var a [4]byte
		copy(a[:], ip.To4())
		as = append(as, dnsmessage.Resource{
			Header: dnsmessage.ResourceHeader{Name: r.hostName, Class: dnsmessage.ClassINET | cacheFlush, TTL: hostTTL},
			Body:   &dnsmessage.AResource{A: a},
		})
	}
	return
}

func (r *responder) txt() []string {
	if len(r.svc.TXT) == 0 {
		return []string{""} // a TXT record must hold one string (RFC 6763 §6.1)
	}
	return r.svc.TXT
}

// announceAll multicasts the full record set on every interface and
// returns how many it sent on.
func (r *responder) announceAll(ttl uint32) int {
	ifs := r.interfaces()
	for idx, ips := range ifs {
		ptr, srv, txt, as := r.records(ips, ttl)
		msg := dnsmessage.Message{Header: dnsmessage.Header{Response: true, Authoritative: true},
			Answers: append([]dnsmessage.Resource{ptr, srv, txt}, as...)}
		r.send(&msg, idx, groupAddr)
	}
	return len(ifs)
}

func (r *responder) send(msg *dnsmessage.Message, ifIndex int, to *net.UDPAddr) {
	b, err := msg.Pack()
	if err != nil {
		r.log.Error("mDNS: pack", "error", err)
		return
	}
	var cm *ipv4.ControlMessage
	if ifIndex > 0 && to.IP.IsMulticast() {
		cm = &ipv4.ControlMessage{IfIndex: ifIndex}
	}
	if _, err := r.pc.WriteTo(b, cm, to); err != nil {
		r.log.Debug("mDNS: send", "to", to.String(), "error", err)
	}
}

// announceLoop announces twice at start (one second apart, RFC 6762 §8.3)
// and again after every address change.
func (r *responder) announceLoop() {
	defer r.wg.Done()
	t := time.NewTimer(0)
	defer t.Stop()
	left := 2
	for {
		select {
		case <-r.done:
			return
		case <-t.C:
			n := r.announceAll(serviceTTL)
			r.log.Debug("mDNS announced", "interfaces", n)
			if left--; left > 0 {
				t.Reset(time.Second)
			}
		case <-r.changed:
			r.log.Debug("mDNS: interface addresses changed; announcing again")
			// Addresses settle over a few netlink messages; wait a moment.
			r.joinAll()
			left = 2
			t.Reset(200 * time.Millisecond)
		}
	}
}

// serve answers queries until the socket is closed.
func (r *responder) serve() {
	defer r.wg.Done()
	buf := make([]byte, 9000)
	// last multicast answer per interface and question: RFC 6762 §6 allows
	// a record to be multicast once a second on an interface.
	last := map[string]time.Time{}
	for {
		n, cm, from, err := r.pc.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		src, ok := from.(*net.UDPAddr)
		if !ok {
			continue
		}
		ifIndex := 0
		if cm != nil {
			ifIndex = cm.IfIndex
		}
		r.answer(buf[:n], src, ifIndex, last)
	}
}

// answer replies to one query, if it asks for something this responder
// owns.
func (r *responder) answer(pkt []byte, src *net.UDPAddr, ifIndex int, last map[string]time.Time) {
	h, qs, ok := parseQuery(pkt)
	if !ok || !r.asksForUs(qs) {
		return // most of a LAN's mDNS traffic: not worth an interface lookup
	}
	ips, ok := r.interfaces()[ifIndex]
	if !ok {
		return // not an interface we announce on
	}
	msg, to := r.reply(h, qs, src, ips)
	if msg == nil {
		return
	}
	if to == groupAddr {
		key := fmt.Sprint(ifIndex, qs)
		now := time.Now()
		if now.Sub(last[key]) < time.Second {
			return // the same answer went out on this interface within the second
		}
		if len(last) > 64 { // a few distinct questions are all a LAN asks
			clear(last)
		}
		last[key] = now
	}
	r.log.Trace("mDNS query answered", "from", src.String(), "multicast", to == groupAddr)
	r.send(msg, ifIndex, to)
}

// parseQuery reads the header and questions of a query; responses and
// malformed packets are not ok.
func parseQuery(pkt []byte) (dnsmessage.Header, []dnsmessage.Question, bool) {
	var p dnsmessage.Parser
	h, err := p.Start(pkt)
	if err != nil || h.Response {
		return h, nil, false
	}
	qs, err := p.AllQuestions()
	return h, qs, err == nil
}

// reply builds the answer to questions qs from src, received on an
// interface holding ips, and says where it goes: the group, or src for a
// unicast (QU) or legacy question. nil when nothing asked is ours.
func (r *responder) reply(h dnsmessage.Header, qs []dnsmessage.Question, src *net.UDPAddr, ips []net.IP) (*dnsmessage.Message, *net.UDPAddr) {
	ptr, srv, txt, as := r.records(ips, serviceTTL)
	var answers, extra []dnsmessage.Resource
	legacy := src.Port != mdnsPort // a one-shot resolver (§6.7)
	unicast := legacy
	for _, q := range qs {
		if uint16(q.Class)&quBit != 0 {
			unicast = true
		}
		name, t := q.Name.String(), q.Type
		anyT := t == dnsmessage.TypeALL
		switch {
		case strings.EqualFold(name, r.enumName.String()) && (t == dnsmessage.TypePTR || anyT):
			answers = append(answers, dnsmessage.Resource{
				Header: dnsmessage.ResourceHeader{Name: r.enumName, Class: dnsmessage.ClassINET, TTL: serviceTTL},
				Body:   &dnsmessage.PTRResource{PTR: r.svcName}})
		case strings.EqualFold(name, r.svcName.String()) && (t == dnsmessage.TypePTR || anyT):
			answers = append(answers, ptr)
			extra = append(append(extra, srv, txt), as...)
		case strings.EqualFold(name, r.instName.String()):
			if t == dnsmessage.TypeSRV || anyT {
				answers = append(answers, srv)
				extra = append(extra, as...)
			}
			if t == dnsmessage.TypeTXT || anyT {
				answers = append(answers, txt)
			}
		case strings.EqualFold(name, r.hostName.String()) && (t == dnsmessage.TypeA || anyT):
			answers = append(answers, as...)
		}
	}
	if len(answers) == 0 {
		return nil, nil
	}
	msg := &dnsmessage.Message{Header: dnsmessage.Header{Response: true, Authoritative: true},
		Answers: answers, Additionals: extra}
	if !unicast {
		return msg, groupAddr
	}
	if legacy { // echo the id and questions; no cache-flush bits (§6.7)
		msg.Header.ID = h.ID
		msg.Questions = qs
		for i := range msg.Answers {
			msg.Answers[i].Header.Class &^= cacheFlush
		}
		msg.Additionals = nil
	}
	return msg, src
}

// asksForUs reports whether a question names one of our records.
func (r *responder) asksForUs(qs []dnsmessage.Question) bool {
	for _, q := range qs {
		n := q.Name.String()
		for _, ours := range []dnsmessage.Name{r.enumName, r.svcName, r.instName, r.hostName} {
			if strings.EqualFold(n, ours.String()) {
				return true
			}
		}
	}
	return false
}

// Close sends the goodbye (TTL 0) and stops.
func (r *responder) Close() error {
	r.once.Do(func() {
		close(r.done)
		r.announceAll(0)
		r.conn.Close()
		if r.nl != nil {
			_ = r.nl.Close() // wakes watchAddrs
		}
		r.wg.Wait()
		r.log.Info("mDNS goodbye sent")
	})
	return nil
}

// subscribeAddrChanges opens a netlink socket that receives a message
// whenever an IPv4 address or a link changes; nil if it cannot. The socket
// is non-blocking and wrapped in an os.File, so a read parks in Go's
// poller (no thread, no wake-ups while idle) and Close ends it.
func subscribeAddrChanges() *os.File {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return nil
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: unix.RTMGRP_IPV4_IFADDR | unix.RTMGRP_LINK}); err != nil {
		unix.Close(fd)
		return nil
	}
	return os.NewFile(uintptr(fd), "netlink-route")
}

// watchAddrs turns netlink messages into re-announcements.
func (r *responder) watchAddrs() {
	defer r.wg.Done()
	buf := make([]byte, 8192)
	failures := 0
	for {
		if _, err := r.nl.Read(buf); err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			select {
			case <-r.done:
				return
			default:
			}
			// ENOBUFS after a burst of changes is still a change; an error
			// that keeps coming is not, and must not spin.
			if failures++; failures > 10 {
				r.log.Warn("mDNS: address changes no longer followed", "error", err)
				return
			}
		} else {
			failures = 0
		}
		select {
		case r.changed <- struct{}{}:
		default:
		}
	}
}

package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
)

// Limits on an apcupsd NIS status reply (a real one is ~60 records, ~1.5 KB).
const (
	nisMaxRecords = 512
	nisMaxBytes   = 64 << 10
)

// readNIS reads NIS frames (a 2-byte big-endian length, then that many
// bytes) up to the empty frame that ends a reply, and returns the records
// ("KEY : value") as a map. It is separate from the connection so it can
// be fuzzed.
func readNIS(r io.Reader) (map[string]string, error) {
	recs := make(map[string]string, 64)
	var hdr [2]byte
	total := 0
	buf := make([]byte, 0, 128)
	for n := 0; ; n++ {
		if n > nisMaxRecords {
			return nil, fmt.Errorf("NIS reply: more than %d records", nisMaxRecords)
		}
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			return nil, fmt.Errorf("NIS reply: read length: %w", noEOF(err))
		}
		size := int(binary.BigEndian.Uint16(hdr[:]))
		if size == 0 {
			return recs, nil
		}
		total += size
		if total > nisMaxBytes {
			return nil, fmt.Errorf("NIS reply: more than %d bytes", nisMaxBytes)
		}
		if cap(buf) < size {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		if _, err := io.ReadFull(r, buf); err != nil {
			return nil, fmt.Errorf("NIS reply: read record: %w", noEOF(err))
		}
		if k, v, ok := parseNISRecord(string(buf)); ok {
			recs[k] = v
		}
	}
}

func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// parseNISRecord splits "STATUS   : ONLINE \n" into ("STATUS", "ONLINE").
func parseNISRecord(rec string) (key, value string, ok bool) {
	k, v, found := strings.Cut(rec, ":")
	if !found {
		return "", "", false
	}
	key = strings.TrimSpace(k)
	if key == "" || strings.ContainsAny(key, " \t") {
		return "", "", false
	}
	return key, strings.TrimSpace(v), true
}

// writeNIS frames one request.
func writeNIS(w io.Writer, req string) error {
	b := make([]byte, 2+len(req))
	binary.BigEndian.PutUint16(b, uint16(len(req)))
	copy(b[2:], req)
	_, err := w.Write(b)
	return err
}

// queryAPC opens one connection to apcupsd's NIS server at addr, sends
// "status" and returns the records. Bounded by ctx's deadline.
func queryAPC(ctx context.Context, addr string) (map[string]string, error) {
	recs, err := queryAPCConn(ctx, addr)
	return recs, ctxErr(ctx, err)
}

func queryAPCConn(ctx context.Context, addr string) (map[string]string, error) {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial apcupsd %s: %w", addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		if err := conn.SetDeadline(dl); err != nil {
			return nil, fmt.Errorf("set deadline: %w", err)
		}
	}
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if err := writeNIS(conn, "status"); err != nil {
		return nil, fmt.Errorf("apcupsd %s: send status: %w", addr, err)
	}
	recs, err := readNIS(bufio.NewReaderSize(conn, 2048))
	if err != nil {
		return nil, fmt.Errorf("apcupsd %s: %w", addr, err)
	}
	return recs, nil
}

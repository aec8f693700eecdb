package connlimit_test

import (
	"bufio"
	"io"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/pocketbackup/pocketbackup/host/connlimit"
)

// holdServer accepts through ln, greets each connection it gets with a
// line and keeps it open until the client closes it.
func holdServer(t *testing.T, ln net.Listener) {
	t.Helper()
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				if _, err := io.WriteString(c, "hello\n"); err != nil {
					return
				}
				_, _ = io.Copy(io.Discard, c) // until the client closes
			}()
		}
	}()
}

// dialFrom connects to addr from the loopback address from and reports
// whether the server kept the connection (greeted it) or closed it.
func dialFrom(t *testing.T, from, addr string) (net.Conn, bool) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 10 * time.Second}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial from %s: %v", from, err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	line, err := bufio.NewReader(c).ReadString('\n')
	return c, err == nil && line == "hello\n"
}

func listen(t *testing.T, limits connlimit.Limits) (*connlimit.Listener, string) {
	t.Helper()
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := connlimit.Listen(raw, limits)
	holdServer(t, ln)
	return ln, raw.Addr().String()
}

func TestPerAddrCap(t *testing.T) {
	ln, addr := listen(t, connlimit.Limits{Total: 100, PerAddr: 3})
	var held []net.Conn
	for i := range 3 {
		c, ok := dialFrom(t, "127.0.0.2", addr)
		if !ok {
			t.Fatalf("connection %d from 127.0.0.2 refused under the cap", i+1)
		}
		held = append(held, c)
	}
	if _, ok := dialFrom(t, "127.0.0.2", addr); ok {
		t.Fatal("a 4th connection from 127.0.0.2 was kept; cap is 3")
	}
	if _, ok := dialFrom(t, "127.0.0.3", addr); !ok {
		t.Fatal("another address was refused while 127.0.0.2 was at its cap")
	}
	if ln.Refused() != 1 {
		t.Errorf("Refused() = %d, want 1", ln.Refused())
	}
	// A closed connection gives its place back.
	held[0].Close()
	waitOpen(t, ln, netip.MustParseAddr("127.0.0.2"), 2)
	if _, ok := dialFrom(t, "127.0.0.2", addr); !ok {
		t.Fatal("127.0.0.2 refused after one of its connections closed")
	}
}

func TestTotalCap(t *testing.T) {
	ln, addr := listen(t, connlimit.Limits{Total: 4, PerAddr: 3})
	for i, from := range []string{"127.0.0.2", "127.0.0.2", "127.0.0.3", "127.0.0.4"} {
		if _, ok := dialFrom(t, from, addr); !ok {
			t.Fatalf("connection %d refused under the total cap", i+1)
		}
	}
	if _, ok := dialFrom(t, "127.0.0.5", addr); ok {
		t.Fatal("a 5th connection was kept; total cap is 4")
	}
	if total, _ := ln.Open(netip.Addr{}); total != 4 {
		t.Errorf("open connections %d, want 4", total)
	}
}

func TestExemptPeersOnlyCountTowardsTotal(t *testing.T) {
	_, addr := listen(t, connlimit.Limits{Total: 10, PerAddr: 1, Exempt: []netip.Prefix{netip.MustParsePrefix("127.0.0.9/32")}})
	for i := range 5 {
		if _, ok := dialFrom(t, "127.0.0.9", addr); !ok {
			t.Fatalf("connection %d from the exempt proxy refused", i+1)
		}
	}
	if _, ok := dialFrom(t, "127.0.0.2", addr); !ok {
		t.Fatal("first connection from 127.0.0.2 refused")
	}
	if _, ok := dialFrom(t, "127.0.0.2", addr); ok {
		t.Fatal("second connection from 127.0.0.2 kept; cap is 1")
	}
}

// TestKeepsSendfile: the wrapped connection still offers the TCP
// connection's ReadFrom, which net/http needs for sendfile.
func TestKeepsSendfile(t *testing.T) {
	raw, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln := connlimit.Listen(raw, connlimit.Limits{Total: 1})
	defer ln.Close()
	go func() {
		c, err := net.Dial("tcp", raw.Addr().String())
		if err == nil {
			defer c.Close()
			_, _ = io.Copy(io.Discard, c)
		}
	}()
	c, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, ok := c.(io.ReaderFrom); !ok {
		t.Error("accepted connection is not an io.ReaderFrom")
	}
	if _, ok := c.(interface{ CloseWrite() error }); !ok {
		t.Error("accepted connection has no CloseWrite")
	}
	if n, err := c.(io.ReaderFrom).ReadFrom(io.LimitReader(zeros{}, 1<<20)); n != 1<<20 || err != nil {
		t.Errorf("ReadFrom: %d, %v", n, err)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) { clear(p); return len(p), nil }

// waitOpen waits until the listener counts want connections from addr:
// the server closes its side when it reads the client's close.
func waitOpen(t *testing.T, ln *connlimit.Listener, addr netip.Addr, want int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, n := ln.Open(addr); n == want {
			return
		}
		if time.Now().After(deadline) {
			_, n := ln.Open(addr)
			t.Fatalf("%d connections open from %s, want %d", n, addr, want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

package clientip_test

import (
	"net/http/httptest"
	"testing"

	"github.com/pocketbackup/pocketbackup/host/clientip"
)

func mustParse(t testing.TB, list string) clientip.Proxies {
	t.Helper()
	p, err := clientip.Parse(list)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestClient(t *testing.T) {
	none := clientip.Proxies{}
	proxy := mustParse(t, "10.0.0.1, 192.168.0.0/16 ::1")
	tests := []struct {
		name    string
		proxies clientip.Proxies
		remote  string
		xff     []string
		xrip    string
		want    string
		header  string // UntrustedHeader
	}{
		{"no proxies, plain", none, "203.0.113.5:4000", nil, "", "203.0.113.5", ""},
		{"no proxies, forged XFF ignored", none, "203.0.113.5:4000", []string{"1.2.3.4"}, "", "203.0.113.5", "X-Forwarded-For"},
		{"no proxies, forged X-Real-IP ignored", none, "203.0.113.5:4000", nil, "1.2.3.4", "203.0.113.5", "X-Real-IP"},
		{"untrusted peer, forged XFF ignored", proxy, "203.0.113.5:4000", []string{"10.0.0.1"}, "", "203.0.113.5", "X-Forwarded-For"},
		{"trusted peer, one hop", proxy, "10.0.0.1:5000", []string{"198.51.100.7"}, "", "198.51.100.7", ""},
		{"trusted peer, right-most untrusted wins", proxy, "10.0.0.1:5000", []string{"6.6.6.6, 198.51.100.7"}, "", "198.51.100.7", ""},
		{"trusted chain skipped", proxy, "10.0.0.1:5000", []string{"6.6.6.6, 198.51.100.7, 192.168.3.4"}, "", "198.51.100.7", ""},
		{"several header lines", proxy, "10.0.0.1:5000", []string{"6.6.6.6", "198.51.100.7"}, "", "198.51.100.7", ""},
		{"client's garbage to the left", proxy, "10.0.0.1:5000", []string{"not-an-ip, 198.51.100.7"}, "", "198.51.100.7", ""},
		{"unreadable hop from the proxy", proxy, "10.0.0.1:5000", []string{"198.51.100.7, junk"}, "", "10.0.0.1", ""},
		{"all trusted: left-most", proxy, "10.0.0.1:5000", []string{"192.168.1.1, 10.0.0.1"}, "", "192.168.1.1", ""},
		{"X-Real-IP from trusted peer", proxy, "10.0.0.1:5000", nil, "198.51.100.9", "198.51.100.9", ""},
		{"XFF preferred to X-Real-IP", proxy, "10.0.0.1:5000", []string{"198.51.100.7"}, "198.51.100.9", "198.51.100.7", ""},
		{"trusted peer without headers", proxy, "10.0.0.1:5000", nil, "", "10.0.0.1", ""},
		{"IPv6 peer trusted", proxy, "[::1]:5000", []string{"2001:db8::1"}, "", "2001:db8::1", ""},
		{"mapped IPv4 peer", proxy, "[::ffff:10.0.0.1]:5000", []string{"198.51.100.7"}, "", "198.51.100.7", ""},
		{"hop with port", proxy, "10.0.0.1:5000", []string{"198.51.100.7:1234"}, "", "198.51.100.7", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if tc.xrip != "" {
				r.Header.Set("X-Real-IP", tc.xrip)
			}
			got, ok := tc.proxies.Client(r)
			if !ok || got.String() != tc.want {
				t.Errorf("Client = %v, %v; want %s", got, ok, tc.want)
			}
			if h := tc.proxies.UntrustedHeader(r); h != tc.header {
				t.Errorf("UntrustedHeader = %q, want %q", h, tc.header)
			}
		})
	}
}

func TestClientNotIP(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "@"
	if _, ok := mustParse(t, "0.0.0.0/0").Client(r); ok {
		t.Error("a non-IP RemoteAddr gave an address")
	}
}

func TestParse(t *testing.T) {
	p := mustParse(t, " 10.0.0.1,192.168.0.0/16\t::1 , 172.16.5.4/12 ::ffff:10.9.9.9")
	if got, want := p.String(), "10.0.0.1/32,192.168.0.0/16,::1/128,172.16.0.0/12,10.9.9.9/32"; got != want {
		t.Errorf("parsed %s, want %s", got, want)
	}
	if p, err := clientip.Parse(""); err != nil || len(p.Prefixes()) != 0 {
		t.Errorf("empty list: %v, %v", p, err)
	}
	for _, bad := range []string{"10.0.0", "localhost", "10.0.0.0/33", "fe80::1%eth0", "1.2.3.4:80"} {
		if _, err := clientip.Parse(bad); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
}

// FuzzClient: whatever the headers and peer say, Client never panics, and
// without trusted proxies it is always the peer.
func FuzzClient(f *testing.F) {
	f.Add("10.0.0.1:5000", "1.2.3.4, 10.0.0.2", "5.6.7.8", "10.0.0.0/8")
	f.Add("[::1]:1", "[2001:db8::1]:80,,", "", "::1")
	f.Add("1.2.3.4:1", "", "", "")
	f.Fuzz(func(t *testing.T, remote, xff, xrip, trusted string) {
		p, err := clientip.Parse(trusted)
		if err != nil {
			return
		}
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = remote
		r.Header.Set("X-Forwarded-For", xff)
		r.Header.Set("X-Real-IP", xrip)
		got, ok := p.Client(r)
		_ = p.UntrustedHeader(r)
		plain, plainOK := clientip.Proxies{}.Client(r)
		if ok != plainOK {
			t.Fatalf("ok %v with proxies, %v without", ok, plainOK)
		}
		if ok && !p.Trusts(plain) && got != plain {
			t.Fatalf("untrusted peer %v: client %v", plain, got)
		}
	})
}

package atrest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"
)

func newKeys(t testing.TB) (*Keys, []byte) {
	t.Helper()
	text, err := GenerateKeys()
	if err != nil {
		t.Fatal(err)
	}
	k, err := ParseKeys(text)
	if err != nil {
		t.Fatal(err)
	}
	return k, text
}

func encrypt(t testing.TB, k *Keys, plain []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := k.Encrypt(&buf)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(plain); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func randomBytes(n int) []byte {
	b := make([]byte, n)
	r := rand.New(rand.NewPCG(1, uint64(n)))
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

func TestRoundTripAtEveryOffset(t *testing.T) {
	k, _ := newKeys(t)
	for _, n := range []int{0, 1, chunkSize - 1, chunkSize, chunkSize + 1, 3*chunkSize + 17} {
		plain := randomBytes(n)
		enc := encrypt(t, k, plain)
		head := enc[:min(len(enc), HeadLen)]
		if !IsEncrypted(head) {
			t.Fatalf("size %d: not recognised as encrypted", n)
		}
		if size, ok := PlainSize(head, int64(len(enc))); !ok || size != int64(n) {
			t.Fatalf("size %d: PlainSize = %d, %v", n, size, ok)
		}
		ra, size, err := k.DecryptReaderAt(bytes.NewReader(enc), int64(len(enc)))
		if err != nil || size != int64(n) {
			t.Fatalf("size %d: DecryptReaderAt: %d, %v", n, size, err)
		}
		for _, off := range []int{0, n / 2, max(n-1, 0)} {
			got, err := io.ReadAll(io.NewSectionReader(ra, int64(off), size-int64(off)))
			if err != nil || !bytes.Equal(got, plain[off:]) {
				t.Fatalf("size %d offset %d: read %d bytes, %v", n, off, len(got), err)
			}
		}
		var out bytes.Buffer
		keysText := []byte(k.Text())
		if _, err := DecryptFile(&out, bytes.NewReader(enc), keysText); err != nil || !bytes.Equal(out.Bytes(), plain) {
			t.Fatalf("size %d: DecryptFile: %v", n, err)
		}
	}
}

func TestRefusals(t *testing.T) {
	a, _ := newKeys(t)
	b, _ := newKeys(t)
	plain := randomBytes(3*chunkSize + 5)
	enc := encrypt(t, a, plain)
	flipped := bytes.Clone(enc)
	flipped[len(flipped)/2] ^= 1
	for _, tc := range []struct {
		name string
		keys *Keys
		data []byte
		want error
	}{
		{"no key", nil, enc, ErrNoKey},
		{"wrong key", b, enc, ErrWrongKey},
		{"flipped byte", a, flipped, ErrCorrupt},
		{"truncated", a, enc[:len(enc)-chunkSize/2], ErrCorrupt},
		{"truncated at a chunk boundary", a, enc[:len(enc)-(5+tagSize)], ErrCorrupt},
		{"header only", a, enc[:200], ErrCorrupt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := readAllAt(tc.keys, tc.data)
			if !errors.Is(err, tc.want) {
				t.Fatalf("ReaderAt: got %v, want %v", err, tc.want)
			}
			_, err = DecryptFile(io.Discard, bytes.NewReader(tc.data), []byte(tc.keys.Text()))
			if tc.keys == nil {
				if !errors.Is(err, ErrBadKeys) {
					t.Fatalf("DecryptFile without keys: %v", err)
				}
			} else if !errors.Is(err, tc.want) {
				t.Fatalf("DecryptFile: got %v, want %v", err, tc.want)
			}
		})
	}
}

func readAllAt(k *Keys, data []byte) error {
	ra, size, err := k.DecryptReaderAt(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return err
	}
	_, err = io.Copy(io.Discard, io.NewSectionReader(ra, 0, size))
	return err
}

func TestRotation(t *testing.T) {
	a, aText := newKeys(t)
	_, bText := newKeys(t)
	enc := encrypt(t, a, []byte("made with A"))
	both, err := ParseKeys(append(append([]byte{}, bText...), aText...))
	if err != nil || both.Len() != 2 {
		t.Fatalf("parse B then A: %v", err)
	}
	if both.Recipient() == a.Recipient() {
		t.Fatal("new backups must go to the first key (B)")
	}
	if err := readAllAt(both, enc); err != nil {
		t.Fatalf("B then A cannot read A's backup: %v", err)
	}
}

func TestParseKeysNeverQuotesTheKey(t *testing.T) {
	_, text := newKeys(t)
	line := strings.Split(strings.TrimSpace(string(text)), "\n")[1]
	bad := line[:len(line)-3] + "xyz"
	for _, in := range []string{"", "# only a comment\n", bad, "AGE-SECRET-KEY-1\n", "age1notanidentity\n", strings.Repeat("#", MaxKeysFile+1)} {
		_, err := ParseKeys([]byte(in))
		if !errors.Is(err, ErrBadKeys) {
			t.Fatalf("%.20q: %v, want ErrBadKeys", in, err)
		}
		if strings.Contains(err.Error(), "AGE-SECRET") || strings.Contains(err.Error(), line[20:40]) {
			t.Fatalf("error quotes the key: %v", err)
		}
	}
	k, _ := ParseKeys(text)
	if s := fmt.Sprintf("%v %+v %#v %s", k, k, k, k); strings.Contains(s, "AGE-SECRET") {
		t.Fatalf("keys formatted: %s", s)
	}
}

func TestSecrets(t *testing.T) {
	a, _ := newKeys(t)
	b, _ := newKeys(t)
	sealed, err := a.SealSecret("s3cr3t")
	if err != nil || !IsSealed(sealed) || strings.Contains(sealed, "s3cr3t") {
		t.Fatalf("sealed = %q, %v", sealed, err)
	}
	if got, err := a.OpenSecret(sealed); err != nil || got != "s3cr3t" {
		t.Fatalf("open = %q, %v", got, err)
	}
	if got, err := a.OpenSecret("clear-old"); err != nil || got != "clear-old" {
		t.Fatalf("a clear secret must read as it is: %q, %v", got, err)
	}
	if _, err := b.OpenSecret(sealed); !errors.Is(err, ErrWrongKey) {
		t.Fatalf("wrong key: %v", err)
	}
	var none *Keys
	if _, err := none.OpenSecret(sealed); !errors.Is(err, ErrNoKey) {
		t.Fatalf("no key: %v", err)
	}
	if s, _ := none.SealSecret("x"); s != "x" {
		t.Fatalf("without keys a secret stays as it is: %q", s)
	}
}

// FuzzParseKeys: a keys file is operator input, but may be any bytes; the
// parser must never panic nor quote a line it refuses.
func FuzzParseKeys(f *testing.F) {
	text, _ := GenerateKeys()
	f.Add(text)
	f.Add([]byte("# c\n\nAGE-SECRET-KEY-1QQQQ\n"))
	f.Add([]byte("AGE-SECRET-KEY-PQ-1\n"))
	f.Fuzz(func(t *testing.T, in []byte) {
		k, err := ParseKeys(in)
		if err != nil {
			if len(in) >= 24 && strings.Contains(err.Error(), string(in)) {
				t.Fatalf("error quotes the input: %v", err)
			}
			return
		}
		if _, err := ParseKeys([]byte(k.Text())); err != nil {
			t.Fatalf("Text does not parse back: %v", err)
		}
	})
}

// FuzzPlainSize: the head of a stored object is untrusted bytes.
func FuzzPlainSize(f *testing.F) {
	k, _ := newKeys(f)
	f.Add(encrypt(f, k, []byte("hello")), int64(300))
	f.Add([]byte(Magic+"\n--- \n"), int64(10))
	f.Fuzz(func(t *testing.T, head []byte, size int64) {
		if n, ok := PlainSize(head, size); ok && (n < 0 || n > size) {
			t.Fatalf("PlainSize(%d) = %d", size, n)
		}
	})
}

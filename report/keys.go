package report

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
	"unicode/utf8"
)

// KeyMode says how API keys (credentials) appear in reports.
type KeyMode string

const (
	// KeyRaw writes keys as they were in the logs.
	KeyRaw KeyMode = "raw"
	// KeyPrefix writes the first characters of a key plus a short unkeyed
	// digest of the whole key: recognisable by a human, not usable as a
	// credential.
	KeyPrefix KeyMode = "prefix"
	// KeyHMAC writes HMAC-SHA256(secret, key) in hex: stable across runs
	// under the same secret, so warehouse joins work, and irreversible
	// without the secret.
	KeyHMAC KeyMode = "hmac"
)

// KeySecretEnv is the environment variable holding the --key-display hmac
// secret when no secret file is given.
const KeySecretEnv = "KEYRATE_KEY_SECRET"

// MinKeySecretBytes is the shortest accepted HMAC secret: a short secret
// could be brute-forced and the keys with it.
const MinKeySecretBytes = 16

const (
	prefixChars  = 8  // characters of the key kept by KeyPrefix
	prefixDigest = 16 // hex digits of SHA-256 kept by KeyPrefix (64 bits: no collision in practice, even among keys sharing a prefix such as sk_live_)
)

// KeyDisplay turns a raw key into the text written to reports. The zero
// value is raw mode.
type KeyDisplay struct {
	mode   KeyMode
	secret []byte
	// last memoises the latest key: rows arrive grouped by key, so one
	// HMAC per key rather than one per row.
	lastRaw, lastShown string
}

// NewKeyDisplay returns the display for mode. secret is required for
// KeyHMAC and ignored otherwise; one too short is a *ShortSecretError.
// Errors name the mode, not where it came from: the caller adds that.
func NewKeyDisplay(mode KeyMode, secret []byte) (*KeyDisplay, error) {
	switch mode {
	case KeyRaw, "":
		return &KeyDisplay{mode: KeyRaw}, nil
	case KeyPrefix:
		return &KeyDisplay{mode: KeyPrefix}, nil
	case KeyHMAC:
		if len(secret) < MinKeySecretBytes {
			return nil, &ShortSecretError{Bytes: len(secret)}
		}
		return &KeyDisplay{mode: KeyHMAC, secret: secret}, nil
	}
	return nil, fmt.Errorf("%q: want raw, prefix or hmac", string(mode))
}

// ShortSecretError is an HMAC secret shorter than MinKeySecretBytes. It
// gives the secret's length only, never the secret.
type ShortSecretError struct{ Bytes int }

func (e *ShortSecretError) Error() string {
	if e.Bytes == 0 {
		return fmt.Sprintf("hmac: no secret set, want one of at least %d bytes", MinKeySecretBytes)
	}
	return fmt.Sprintf("hmac: the secret has %d bytes, want at least %d", e.Bytes, MinKeySecretBytes)
}

// LoadKeySecret reads the HMAC secret from file if it is not empty, else
// from the KEYRATE_KEY_SECRET environment variable. A trailing newline
// (as editors and echo leave) is not part of the secret. Errors never
// contain the secret.
func LoadKeySecret(file string) ([]byte, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		return []byte(strings.TrimRight(string(b), "\r\n")), nil
	}
	return []byte(os.Getenv(KeySecretEnv)), nil
}

// Mode reports the display mode.
func (d *KeyDisplay) Mode() KeyMode {
	if d == nil || d.mode == "" {
		return KeyRaw
	}
	return d.mode
}

// Fingerprint identifies the display without revealing the secret: the
// mode and its parameters, and under hmac 16 hex digits of the HMAC of a
// fixed text under the secret. A dataset records it, and refuses a run
// whose keys would be displayed otherwise: its partials would not join.
func (d *KeyDisplay) Fingerprint() string {
	switch d.Mode() {
	case KeyPrefix:
		return fmt.Sprintf("prefix:%d:%d", prefixChars, prefixDigest)
	case KeyHMAC:
		m := hmac.New(sha256.New, d.secret)
		m.Write([]byte("keyrate key display fingerprint"))
		return "hmac:" + hex.EncodeToString(m.Sum(nil))[:16]
	}
	return "raw"
}

// Hides reports whether raw keys must be kept out of every output.
func (d *KeyDisplay) Hides() bool { return d.Mode() != KeyRaw }

// Show returns the report text for raw key k. It is a pure function of k
// (and the secret), so it also defines the order rows must be written in:
// see OrderKey. Not safe for concurrent use (it memoises).
func (d *KeyDisplay) Show(k string) string {
	if d != nil && k == d.lastRaw && d.lastShown != "" {
		return d.lastShown
	}
	s := d.show(k)
	if d != nil {
		d.lastRaw, d.lastShown = k, s
	}
	return s
}

// Map returns the report text for raw key k, as Show does; it keeps no
// memo, so goroutines may call it at once (the pipeline's key map: a
// dataset stores displayed keys).
func (d *KeyDisplay) Map(k []byte) []byte { return []byte(d.show(string(k))) }

func (d *KeyDisplay) show(k string) string {
	var s string
	switch d.Mode() {
	case KeyRaw:
		s = validUTF8(k)
	case KeyPrefix:
		sum := sha256.Sum256([]byte(k))
		// Never more than half of a short key: the prefix must not be
		// the key.
		n := min(prefixChars, len(k)/2)
		for n > 0 && !utf8.RuneStart(k[n]) {
			n--
		}
		s = validUTF8(k[:n]) + "~" + hex.EncodeToString(sum[:])[:prefixDigest]
	case KeyHMAC:
		m := hmac.New(sha256.New, d.secret)
		m.Write([]byte(k))
		s = hex.EncodeToString(m.Sum(nil))
	}
	return s
}

// validUTF8 returns s made valid UTF-8, as Parquet's STRING type and
// CSV for spreadsheets require. A string holding bytes that are not UTF-8
// or a backslash is escaped: each such byte as the four characters \xNN,
// each backslash as \\; every other string is returned unchanged. The
// mapping is one-to-one (unlike replacing bytes with U+FFFD), so distinct
// keys stay distinct, which the declared sort order depends on: two keys
// written alike would interleave their rows.
func validUTF8(s string) string {
	if utf8.ValidString(s) && !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n == 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\\':
			b.WriteString(`\\`)
		default:
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

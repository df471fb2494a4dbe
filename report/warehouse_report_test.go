package report

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/parquet-go/parquet-go"
)

func TestNeutraliseFormula(t *testing.T) {
	cases := map[string]string{
		"":              "",
		"=1+1":          "'=1+1",
		"+41 22":        "'+41 22",
		"-2":            "'-2",
		"@SUM(A1)":      "'@SUM(A1)",
		"\tx":           "'\tx",
		"\rx":           "'\rx",
		"k_abc":         "k_abc",
		"a=b":           "a=b",
		"'already":      "'already",
		" =leading sp":  " =leading sp",
		"ключ=значение": "ключ=значение",
	}
	for in, want := range cases {
		if got := neutraliseFormula(in); got != want {
			t.Errorf("neutraliseFormula(%q) = %q, want %q", in, got, want)
		}
	}
}

// csvRow has every kind of cell: only strings may be neutralised.
type csvRow struct {
	Key   string    `parquet:"key"`
	Note  string    `parquet:"note"`
	When  time.Time `parquet:"when,timestamp(millisecond)"`
	Delta int64     `parquet:"delta"`
}

func writeCSV(t *testing.T, raw bool, rows []csvRow) [][]string {
	t.Helper()
	dir := t.TempDir()
	writeTable(t, dir, "t", []Format{CSV}, rows, nil, WithCSVRaw(raw))
	b, err := os.ReadFile(filepath.Join(dir, "t.csv"))
	if err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(strings.NewReader(string(b))).ReadAll()
	if err != nil {
		t.Fatalf("not RFC 4180: %v\n%s", err, b)
	}
	return recs
}

func TestCSVFormulaInjection(t *testing.T) {
	when := time.Date(2026, 11, 23, 1, 2, 3, 0, time.UTC)
	rows := []csvRow{
		{Key: "+cmd|' /C calc'!A0", Note: "plain", When: when, Delta: -5},
		{Key: "=HYPERLINK(\"http://x\",\"y\")", Note: "-1,\"2\"\nthree", When: when, Delta: 0},
		{Key: "@x", Note: "\tz", When: when, Delta: 7},
		{Key: "k_plain", Note: "ok", When: when, Delta: -1},
	}
	protected := writeCSV(t, false, rows)
	if got := strings.Join(protected[0], ","); got != "key,note,when,delta" {
		t.Errorf("header %q", got)
	}
	for i, r := range rows {
		rec := protected[i+1]
		if rec[0] != neutraliseFormula(r.Key) || rec[1] != neutraliseFormula(r.Note) {
			t.Errorf("row %d strings %q, want neutralised %q %q", i, rec[:2], r.Key, r.Note)
		}
		for _, s := range rec[:2] {
			if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
				t.Errorf("row %d: cell %q still starts a formula", i, s)
			}
		}
		// Numbers and times are never touched: -5 stays a number.
		if rec[2] != "2026-11-23T01:02:03Z" || rec[3] != fmt.Sprint(r.Delta) {
			t.Errorf("row %d non-string cells %q", i, rec[2:])
		}
	}
	raw := writeCSV(t, true, rows)
	for i, r := range rows {
		if raw[i+1][0] != r.Key || raw[i+1][1] != r.Note {
			t.Errorf("--csv-raw row %d = %q, want %q %q", i, raw[i+1][:2], r.Key, r.Note)
		}
	}
}

func TestKeyDisplay(t *testing.T) {
	secret := []byte("0123456789abcdef-secret")
	hm, err := NewKeyDisplay(KeyHMAC, secret)
	if err != nil {
		t.Fatal(err)
	}
	pre, _ := NewKeyDisplay(KeyPrefix, nil)
	raw, _ := NewKeyDisplay(KeyRaw, nil)
	keys := []string{"k_live_0123456789abcdefghij", "short", "ab", "", "ключ-пользователя-42", "bad\xffutf8key", "k_live_0123456789abcdefghiX"}
	seen := map[string]string{}
	for _, k := range keys {
		m := hmac.New(sha256.New, secret)
		m.Write([]byte(k))
		if got, want := hm.Show(k), hex.EncodeToString(m.Sum(nil)); got != want {
			t.Errorf("hmac(%q) = %s, want %s", k, got, want)
		}
		if len(k) >= 8 && strings.Contains(hm.Show(k), k) {
			t.Errorf("hmac shows the key %q", k)
		}
		p := pre.Show(k)
		head, digest, ok := strings.Cut(p, "~")
		sum := sha256.Sum256([]byte(k))
		if !ok || digest != hex.EncodeToString(sum[:])[:prefixDigest] || !strings.HasPrefix(validUTF8(k), head) {
			t.Errorf("prefix(%q) = %q", k, p)
		}
		if utf8.ValidString(k) && (len(head) > prefixChars || (len(k) > 0 && len(head) > len(k)/2)) {
			t.Errorf("prefix(%q) = %q reveals too much", k, p)
		}
		if other, dup := seen[p]; dup {
			t.Errorf("prefix collision %q and %q", k, other)
		}
		seen[p] = k
		if r := raw.Show(k); r != k && k != "bad\xffutf8key" {
			t.Errorf("raw(%q) = %q", k, r)
		}
	}
	if got := raw.Show("bad\xffutf8key\\"); got != `bad\xffutf8key\\` {
		t.Errorf("raw invalid UTF-8 shown as %q", got)
	}
	// Stable across instances (runs), different under another secret.
	hm2, _ := NewKeyDisplay(KeyHMAC, secret)
	other, _ := NewKeyDisplay(KeyHMAC, []byte("another-secret-of-16+"))
	if hm2.Show(keys[0]) != hm.Show(keys[0]) || other.Show(keys[0]) == hm.Show(keys[0]) {
		t.Error("hmac not a function of (secret, key)")
	}
	if _, err := NewKeyDisplay(KeyHMAC, []byte("short")); err == nil || strings.Contains(err.Error(), "short") {
		t.Errorf("short secret: err = %v (must fail without echoing the secret)", err)
	}
	if _, err := NewKeyDisplay("sha1", nil); err == nil {
		t.Error("unknown mode accepted")
	}
}

func TestLoadKeySecret(t *testing.T) {
	p := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(p, []byte("from-file-secret-123\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv(KeySecretEnv, "from-env-secret-456")
	if s, err := LoadKeySecret(p); err != nil || string(s) != "from-file-secret-123" {
		t.Errorf("file secret = %q, %v", s, err)
	}
	if s, err := LoadKeySecret(""); err != nil || string(s) != "from-env-secret-456" {
		t.Errorf("env secret = %q, %v", s, err)
	}
	if _, err := LoadKeySecret(p + ".missing"); err == nil {
		t.Error("missing secret file accepted")
	}
}

// TestKeyColumnDisplayed checks that Table writes the key column, and only
// it, through the display, in both formats, and never the raw key.
func TestKeyColumnDisplayed(t *testing.T) {
	kd, _ := NewKeyDisplay(KeyHMAC, []byte("0123456789abcdef"))
	rows := genWindows(300, 3, day0, 1)
	dir := t.TempDir()
	// Rows must be sorted by the written key column.
	byShown := map[string][]winRow{}
	var shown []string
	for _, r := range rows {
		s := kd.Show(r.Key)
		if byShown[s] == nil {
			shown = append(shown, s)
		}
		byShown[s] = append(byShown[s], r)
	}
	sortStrings(shown)
	var ordered []winRow
	for _, s := range shown {
		ordered = append(ordered, byShown[s]...)
	}
	writeSet(t, dir, ordered, WithKeyDisplay(kd))
	for name, content := range tree(t, dir) {
		for _, r := range rows {
			if strings.Contains(content, r.Key) {
				t.Fatalf("%s contains raw key %q", name, r.Key)
			}
		}
		if strings.HasSuffix(name, ".csv") && !strings.Contains(content, kd.Show(rows[0].Key)+",100/min,") {
			t.Errorf("%s lacks the displayed key", name)
		}
	}
	// Arrow reads the displayed keys back.
	tbl := readArrow(t, filepath.Join(dir, "windows.parquet"))
	got := arrowWindows(t, tbl)
	for i := range got {
		if got[i].Key != kd.Show(ordered[i].Key) || got[i].LimitName != "100/min" {
			t.Fatalf("row %d key %q, want %q", i, got[i].Key, kd.Show(ordered[i].Key))
		}
	}
}

func TestWriteChecksOrder(t *testing.T) {
	set, err := NewSet(t.TempDir(), []Format{Parquet})
	if err != nil {
		t.Fatal(err)
	}
	defer set.Abort()
	tab, _ := NewTable[winRow](set, "windows")
	a := winRow{Key: "b", LimitName: "x", WindowStart: day0}
	if err := tab.Write(&a); err != nil {
		t.Fatal(err)
	}
	same := a
	if err := tab.Write(&same); err != nil {
		t.Errorf("equal rows rejected: %v", err)
	}
	later := winRow{Key: "b", LimitName: "x", WindowStart: day0.Add(time.Minute)}
	if err := tab.Write(&later); err != nil {
		t.Errorf("ascending window rejected: %v", err)
	}
	back := winRow{Key: "b", LimitName: "x", WindowStart: day0}
	if err := tab.Write(&back); err == nil || strings.Contains(err.Error(), `"b"`) {
		t.Errorf("out-of-order window: err = %v", err)
	}
	before := winRow{Key: "a", LimitName: "z", WindowStart: day0.Add(time.Hour)}
	if err := tab.Write(&before); err == nil {
		t.Error("out-of-order key accepted")
	}
}

// TestHighCardinalityStrings writes a key column whose dictionary
// outgrows dictionaryMaxBytes: the writer falls back to plain pages and
// Arrow still reads every value.
func TestHighCardinalityStrings(t *testing.T) {
	dir := t.TempDir()
	set, err := NewSet(dir, []Format{Parquet})
	if err != nil {
		t.Fatal(err)
	}
	tab, _ := NewTable[keyRow](set, "keys")
	const n = 40_000
	key := func(i int) string { return fmt.Sprintf("k_%08d_%s", i, strings.Repeat("z", 40)) }
	for i := range n {
		r := keyRow{Key: key(i), Requests: int64(i), FirstSeen: day0.Add(time.Duration(i) * time.Second)}
		if err := tab.Write(&r); err != nil {
			t.Fatal(err)
		}
	}
	if err := set.Commit(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	tbl := readArrow(t, filepath.Join(dir, "keys.parquet"))
	if tbl.NumRows() != n {
		t.Fatalf("%d rows, want %d", tbl.NumRows(), n)
	}
	i := 0
	for _, chunk := range tbl.Column(0).Data().Chunks() {
		s := chunk.(*array.String)
		for j := range s.Len() {
			if s.Value(j) != key(i) {
				t.Fatalf("row %d key %q, want %q", i, s.Value(j), key(i))
			}
			i++
		}
	}
}

// unescape inverts validUTF8, proving it one-to-one.
func unescape(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b []byte
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && s[i+1] == '\\' {
			b = append(b, '\\')
			i++
		} else if s[i] == '\\' && s[i+1] == 'x' {
			v, _ := hex.DecodeString(s[i+2 : i+4])
			b = append(b, v...)
			i += 3
		} else {
			b = append(b, s[i])
		}
	}
	return string(b)
}

func TestValidUTF8OneToOne(t *testing.T) {
	alphabet := []byte{'a', 'x', 'f', '0', '\\', 0xff, 0xc3, 0xa9, 0x80, '=', 0xe2}
	r := rand.New(rand.NewPCG(5, 6))
	seen := map[string]string{}
	for range 20_000 {
		b := make([]byte, r.IntN(7))
		for i := range b {
			b[i] = alphabet[r.IntN(len(alphabet))]
		}
		s := string(b)
		e := validUTF8(s)
		if !utf8.ValidString(e) {
			t.Fatalf("validUTF8(%q) = %q is not UTF-8", s, e)
		}
		if utf8.ValidString(s) && !strings.Contains(s, `\`) && e != s {
			t.Fatalf("valid %q changed to %q", s, e)
		}
		if got := unescape(e); got != s {
			t.Fatalf("validUTF8(%q) = %q decodes to %q", s, e, got)
		}
		if other, ok := seen[e]; ok && other != s {
			t.Fatalf("%q and %q both written %q", s, other, e)
		}
		seen[e] = s
	}
}

func TestUnsortedRows(t *testing.T) {
	dir := t.TempDir()
	rows := []winRow{{Key: "b", LimitName: "x", WindowStart: day0}, {Key: "a", LimitName: "x", WindowStart: day0}}
	writeSet(t, dir, rows, WithUnsortedRows())
	f, err := parquet.OpenFile(readerAt(t, filepath.Join(dir, "windows.parquet")))
	if err != nil {
		t.Fatal(err)
	}
	for _, rg := range f.Metadata().RowGroups {
		if len(rg.SortingColumns) != 0 {
			t.Errorf("unsorted rows declared sorted by %v", rg.SortingColumns)
		}
	}
}

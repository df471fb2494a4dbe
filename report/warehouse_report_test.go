package report

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/csv"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/apache/arrow/go/v15/arrow/array"
	"github.com/parquet-go/parquet-go"

	"github.com/keyrate/keyrate/report/schema"
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

// Equal displays have equal fingerprints, any difference (mode, secret)
// changes it, and the fingerprint does not contain the secret.
func TestKeyDisplayFingerprint(t *testing.T) {
	secret := []byte("0123456789abcdef-secret")
	other := []byte("0123456789abcdef-another")
	mk := func(m KeyMode, s []byte) string {
		d, err := NewKeyDisplay(m, s)
		if err != nil {
			t.Fatal(err)
		}
		return d.Fingerprint()
	}
	if got := (*KeyDisplay)(nil).Fingerprint(); got != "raw" {
		t.Errorf("nil display: %q", got)
	}
	seen := map[string]bool{}
	for _, fp := range []string{mk(KeyRaw, nil), mk(KeyPrefix, nil), mk(KeyHMAC, secret), mk(KeyHMAC, other)} {
		if seen[fp] {
			t.Errorf("fingerprint %q twice", fp)
		}
		seen[fp] = true
		if strings.Contains(fp, string(secret)) || strings.Contains(fp, string(other)) {
			t.Errorf("fingerprint %q holds the secret", fp)
		}
	}
	if mk(KeyHMAC, secret) != mk(KeyHMAC, secret) {
		t.Error("the same display has two fingerprints")
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
	tab, _ := NewTable(set, tableOf[winRow]("windows"))
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
	tab, _ := NewTable(set, tableOf[keyRow]("keys"))
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

// sortingColumns lists, per row group, the sort order the Parquet file at
// path declares.
func sortingColumns(t *testing.T, path string) [][]parquet.SortingColumn {
	t.Helper()
	f, err := parquet.OpenFile(readerAt(t, path))
	if err != nil {
		t.Fatal(err)
	}
	var cols [][]parquet.SortingColumn
	for _, rg := range f.RowGroups() {
		cols = append(cols, rg.SortingColumns())
	}
	return cols
}

// TestHiddenKeysDeclareNoOrder: digests and prefixes do not keep the raw
// keys' order the rows come in, so the files declare none, and Write
// checks none.
func TestHiddenKeysDeclareNoOrder(t *testing.T) {
	dir := t.TempDir()
	rows := []winRow{{Key: "b", LimitName: "x", WindowStart: day0}, {Key: "a", LimitName: "x", WindowStart: day0}}
	kd, _ := NewKeyDisplay(KeyPrefix, nil)
	writeSet(t, dir, rows, WithKeyDisplay(kd))
	for _, sc := range sortingColumns(t, filepath.Join(dir, "windows.parquet")) {
		if len(sc) != 0 {
			t.Errorf("hidden keys declared sorted by %v", sc)
		}
	}
}

// TestEscapedKeysUndeclareOrder: raw keys in raw order declare it, until
// a key is written escaped (an escaped key need not sort where its raw
// form does): then no Parquet file of the set declares an order, also
// those of tables that never saw that key, and the files are byte for
// byte those of a writer never told of one.
func TestEscapedKeysUndeclareOrder(t *testing.T) {
	// The raw keys are in order, the written ones not: "a\x80" is
	// written a\x80, and a backslash sorts before a backquote.
	weird := []winRow{
		{Key: "a`", LimitName: "x", WindowStart: day0},
		{Key: "a\x80", LimitName: "x", WindowStart: day0},
		{Key: "b", LimitName: "x", WindowStart: day0},
	}
	plain := genWindows(500, 3, day0, 1)
	for _, escaped := range []bool{false, true} {
		dir := t.TempDir()
		set, err := NewSet(dir, []Format{CSV, Parquet})
		if err != nil {
			t.Fatal(err)
		}
		a, _ := NewTable(set, tableOf[winRow]("a"))
		b, _ := NewTable(set, tableOf[winRow]("b"))
		for i := range plain {
			if err := b.Write(&plain[i]); err != nil {
				t.Fatal(err)
			}
		}
		rows := plain[:3]
		if escaped {
			rows = weird
		}
		for i := range rows {
			if err := a.Write(&rows[i]); err != nil {
				t.Fatalf("escaped %v: %v", escaped, err)
			}
		}
		if err := set.Commit(context.Background(), nil); err != nil {
			t.Fatal(err)
		}
		for name, n := range map[string]int{"a": len(rows), "b": len(plain)} {
			path := filepath.Join(dir, name+".parquet")
			for _, sc := range sortingColumns(t, path) {
				if escaped == (len(sc) != 0) {
					t.Errorf("escaped keys %v: %s declares %v", escaped, name, sc)
				}
			}
			if !escaped {
				continue
			}
			// What a Set without the declaration writes: one Write of
			// every row (fewer than a batch), then Close.
			written := plain
			if name == "a" {
				written = nil
				for _, r := range weird {
					r.Key = validUTF8(r.Key)
					written = append(written, r)
				}
			}
			var ref bytes.Buffer
			w := parquet.NewGenericWriter[winRow](&ref, append(slices.Clone(set.parquetOptions), parquet.KeyValueMetadata(schema.MetaTable, name))...)
			if _, err := w.Write(written[:n]); err != nil {
				t.Fatal(err)
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(path); !bytes.Equal(got, ref.Bytes()) {
				t.Errorf("%s: %d bytes, differ from the %d of a file never declared sorted", name, len(got), ref.Len())
			}
		}
	}
}

// TestWithoutSortingColumns: a footer rewritten without the declaration
// is what parquet-go writes without one, over several row groups and
// values of every kind (empty strings, zero times), also when the last
// row group was flushed before Close.
func TestWithoutSortingColumns(t *testing.T) {
	type row struct {
		Key   string    `parquet:"key,dict"`
		Plan  string    `parquet:"plan,dict"`
		Start time.Time `parquet:"window_start,timestamp(millisecond)"`
		N     int64     `parquet:"n"`
	}
	for _, n := range []int{0, 1, 999, 1000, 3500} {
		rows := make([]row, n)
		for i := range rows {
			rows[i] = row{Key: fmt.Sprintf("k%05d", i/7), Plan: []string{"", "gold"}[i%2], N: int64(i % 3)}
			if i%5 != 0 {
				rows[i].Start = day0.Add(time.Duration(i) * time.Second)
			}
		}
		encode := func(sorted bool) []byte {
			var b bytes.Buffer
			opts := []parquet.WriterOption{parquet.Compression(&parquetZstd), parquet.MaxRowsPerRowGroup(1000), parquet.DataPageStatistics(true)}
			out := &parquetOut{w: &b}
			if sorted {
				opts = append(opts, parquet.SortingWriterConfig(parquet.SortingColumns(parquet.Ascending("key"))))
			}
			w := parquet.NewGenericWriter[row](out, opts...)
			if _, err := w.Write(rows); err != nil {
				t.Fatal(err)
			}
			if sorted {
				if err := w.Flush(); err != nil {
					t.Fatal(err)
				}
				out.hold()
			}
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
			if sorted {
				if err := out.writeUndeclared(); err != nil {
					t.Fatal(err)
				}
			}
			return b.Bytes()
		}
		if got, want := encode(true), encode(false); !bytes.Equal(got, want) {
			t.Errorf("%d rows: rewritten footer gives %d bytes, differing from the %d written without a sort order", n, len(got), len(want))
		}
	}
	if _, err := withoutSortingColumns([]byte("not parquet")); err == nil {
		t.Error("no error for a file without a footer")
	}
}

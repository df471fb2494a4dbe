package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Under --key-display hmac or prefix no raw key reaches stderr (text or
// JSON), the manifest or an error (issue 20, item 3): malformed-line
// reasons quoted the field they reject ("bad byte count LEAKKEYBYTES01"),
// a log no format reads was quoted by its first line, and policy errors
// named keys ("keys.sk_live_...: unknown plan", "billing.csv:3: key
// \"sk_live_...\""). Under raw display, reasons still quote the field.
func TestHiddenKeysLeakNowhere(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KEYRATE_KEY_SECRET", "0123456789abcdef0123456789abcdef")
	leaks := []string{"LEAKKEYBYTES01", "LEAKKEYSTATUS2", "LEAKKEYTIME003", "sk_live_TOMLKEY01", "sk_live_CSVKEY0001", "LEAKKEYFIRSTLINE"}
	good := string(accessLog(200))
	bad := `192.0.2.1 - - [24/Nov/2026:10:00:00 +0000] "GET /x?key=k1 HTTP/1.1" 200 LEAKKEYBYTES01 "-" "t"` + "\n" +
		`192.0.2.1 - - [24/Nov/2026:10:00:00 +0000] "GET /x?key=k1 HTTP/1.1" LEAKKEYSTATUS2 5 "-" "t"` + "\n" +
		`192.0.2.1 - - [LEAKKEYTIME003] "GET /x?key=k1 HTTP/1.1" 200 5 "-" "t"` + "\n"
	log := filepath.Join(dir, "a.log")
	os.WriteFile(log, []byte(good+bad), 0o644)
	undetected := filepath.Join(dir, "other.log")
	os.WriteFile(undetected, []byte("token=LEAKKEYFIRSTLINE and more\nsecond\n"), 0o644)
	policy := filepath.Join(dir, "plans.toml")
	os.WriteFile(policy, []byte("default_plan = \"free\"\nkeys_file = \"billing.csv\"\n"+
		"[plans.free]\nlimits = [{ name = \"a\", algorithm = \"fixed\", limit = 1, window = \"1m\" }]\n"+
		"[keys]\n\"sk_live_TOMLKEY01\" = \"gold\"\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "billing.csv"), []byte("k1,free\nsk_live_CSVKEY0001,gold\n"), 0o644)
	for _, display := range []string{"hmac", "prefix"} {
		for _, format := range []string{"text", "json"} {
			base := []string{"analyze", "--key-display", display, "--stderr-format", format, "--max-bad-ratio", "0.5"}
			out := filepath.Join(dir, display+"-"+format)
			for _, c := range []struct {
				name string
				args []string
				ok   bool
			}{
				{"malformed lines", []string{"--limit", "10/min", "--out", out, log}, true},
				{"undetected input", []string{"--limit", "10/min", "--out", out + "-x", undetected}, false},
				{"policy errors", []string{"--policy", policy, "--out", out + "-x", log}, false},
			} {
				code, stdout, stderr := runKeyrate(t, append(base, c.args...)...)
				if (code == 0) != c.ok {
					t.Errorf("%s %s %s: exit %d: %s", display, format, c.name, code, stderr)
				}
				manifest, _ := os.ReadFile(filepath.Join(out, "manifest.json"))
				for _, k := range leaks {
					for where, text := range map[string]string{"stdout": stdout, "stderr": stderr, "manifest": string(manifest)} {
						if strings.Contains(text, k) {
							t.Errorf("%s %s %s: %s holds %s:\n%s", display, format, c.name, where, k, text)
						}
					}
				}
				if c.name == "malformed lines" && !strings.Contains(stderr, "bad byte count (text not shown)") {
					t.Errorf("%s %s: the reason is not given: %s", display, format, stderr)
				}
			}
		}
	}
	code, _, stderr := runKeyrate(t, "analyze", "--limit", "10/min", "--max-bad-ratio", "0.5", "--out", filepath.Join(dir, "raw"), log)
	if code != 0 || !strings.Contains(stderr, "bad byte count LEAKKEYBYTES01") {
		t.Errorf("raw display: exit %d, want the field quoted: %s", code, stderr)
	}
}

// Policy and keys files never echo a value that may be a secret (issue
// 20, item 5): a keys_file of name,password rows, or a dotenv file given
// as the policy. Errors give the line, the column and what was expected.
func TestPolicyErrorsEchoNoSecret(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "plans.toml"), []byte("keys_file = \"users.csv\"\n"+
		"[plans.free]\nlimits = [{ name = \"a\", algorithm = \"fixed\", limit = 1, window = \"1m\" }]\n"+
		"[plans.pro]\nlimits = [{ name = \"a\", algorithm = \"fixed\", limit = 9, window = \"1m\" }]\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "users.csv"), []byte("alice,free\nbob,SECRETPW_bob\n"), 0o644)
	os.WriteFile(filepath.Join(dir, ".env"), []byte("DB_HOST=localhost\nSTRIPE_KEY=sk_live_SECRETENV01\n"), 0o644)
	for _, c := range []struct {
		file, want, secret string
	}{
		{"plans.toml", filepath.Join(dir, "users.csv") + `:2: key "bob": column 2: unknown plan (want free, pro)`, "SECRETPW_bob"},
		{".env", filepath.Join(dir, ".env") + ":1: column 9: expected value but found other text instead (not valid TOML)", "localhost"},
	} {
		code, stdout, stderr := runKeyrate(t, "policy", "check", filepath.Join(dir, c.file))
		if code != exitUsage || !strings.Contains(stdout+stderr, c.want+"\n") || strings.Contains(stdout+stderr, c.secret) {
			t.Errorf("policy check %s: exit %d, output:\n%s%s\nwant %q and no %q", c.file, code, stdout, stderr, c.want, c.secret)
		}
	}
}

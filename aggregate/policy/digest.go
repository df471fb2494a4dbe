package policy

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// Digest identifies the policy reports were computed under: the SHA-256
// of the compiled policy's JSON form (map keys sorted), so it changes
// with any plan, limit, key assignment or report interval, and not with
// flag order or the policy file's formatting. Every Parquet footer and
// the manifest carry it; a field added to Policy, Plan, Rule or
// RequestFilter changes it for every policy.
func (p *Policy) Digest() (string, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("policy digest: %w", err)
	}
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:]), nil
}

package parse

import "testing"

var benchCombinedLine = []byte(`83.149.9.216 - - [17/May/2015:10:05:03 +0000] "GET /presentations/logstash-monitorama-2013/images/kibana-search.png?api_key=abc123 HTTP/1.1" 200 203023 "http://semicomplete.com/presentations/logstash-monitorama-2013/" "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_9_1) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/32.0.1700.77 Safari/537.36"`)

// BenchmarkCombined measures the combined parser on a typical line; it must
// stay at 0 allocs/op.
func BenchmarkCombined(b *testing.B) {
	var rec Record
	p := Combined{}
	b.SetBytes(int64(len(benchCombinedLine)))
	b.ReportAllocs()
	for b.Loop() {
		if err := p.Parse(benchCombinedLine, &rec); err != nil {
			b.Fatal(err)
		}
	}
}

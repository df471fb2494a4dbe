// Command naive is the baseline bench/run compares keyrate against: the
// program one writes first — a regular expression per line and a map of
// maps — counting requests per API key and minute of a combined log.
// It is deliberately straightforward; do not optimise it.
//
//	naive access.log
package main

import (
	"bufio"
	"fmt"
	"os"
	"regexp"
)

var line = regexp.MustCompile(`^(\S+) \S+ \S+ \[([^\]]+)\] "(\S+) (\S+)[^"]*" (\d{3}) (\d+|-)`)
var key = regexp.MustCompile(`[?&](?:api_key|apikey|key)=([^&\s"]+)`)

func main() {
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	counts := map[string]map[string]int{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	lines := 0
	for sc.Scan() {
		lines++
		m := line.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		k := key.FindStringSubmatch(m[4])
		if k == nil {
			continue
		}
		minute := m[2][:17]
		if counts[k[1]] == nil {
			counts[k[1]] = map[string]int{}
		}
		counts[k[1]][minute]++
	}
	if err := sc.Err(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	cells := 0
	for _, m := range counts {
		cells += len(m)
	}
	fmt.Printf("%d lines, %d keys, %d key-minutes\n", lines, len(counts), cells)
}

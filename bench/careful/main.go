// Command careful is bench/run's second baseline: the single-threaded
// program a careful engineer writes in an afternoon to count a combined
// log's requests per API key and minute. It scans bytes (no regexp, no
// per-line strings), keeps one map entry per (key, minute) and writes the
// counts as CSV sorted by key and minute. Unlike keyrate it validates
// nothing beyond what it needs, evaluates no limits and writes one table.
// Keep it about this simple: it is the bar, not a competitor to tune.
//
//	careful access.log > counts.csv
package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
)

type cell struct {
	key    string
	minute [17]byte // 01/Nov/2026:00:00
}

type counts struct{ requests, errors int }

var params = [][]byte{[]byte("api_key="), []byte("apikey="), []byte("key=")}

// keyOf returns the first api_key, apikey or key parameter of a target.
func keyOf(target []byte) []byte {
	q := bytes.IndexByte(target, '?')
	if q < 0 {
		return nil
	}
	for rest := target[q:]; len(rest) > 1; {
		rest = rest[1:] // the '?' or '&' before the parameter
		for _, p := range params {
			if bytes.HasPrefix(rest, p) {
				v := rest[len(p):]
				if end := bytes.IndexByte(v, '&'); end >= 0 {
					v = v[:end]
				}
				return v
			}
		}
		amp := bytes.IndexByte(rest, '&')
		if amp < 0 {
			return nil
		}
		rest = rest[amp:]
	}
	return nil
}

// add counts one line; malformed lines and lines without a key are skipped.
func add(m map[cell]*counts, line []byte) {
	lb := bytes.IndexByte(line, '[')
	if lb < 0 || len(line) < lb+18 {
		return
	}
	var c cell
	copy(c.minute[:], line[lb+1:lb+18])
	rest := line[lb+18:]
	q := bytes.IndexByte(rest, '"')
	if q < 0 {
		return
	}
	req := rest[q+1:]
	end := bytes.IndexByte(req, '"')
	if end < 0 || len(req) < end+5 {
		return
	}
	status := req[end+2 : end+5]
	target := req[:end] // method, target, protocol
	sp := bytes.IndexByte(target, ' ')
	if sp < 0 {
		return
	}
	target = target[sp+1:]
	if sp = bytes.IndexByte(target, ' '); sp >= 0 {
		target = target[:sp]
	}
	k := keyOf(target)
	if len(k) == 0 {
		return
	}
	p, ok := m[cell{string(k), c.minute}] // no allocation: the compiler keeps the string on the stack
	if !ok {
		c.key = string(k)
		p = &counts{}
		m[c] = p
	}
	p.requests++
	if status[0] >= '4' {
		p.errors++
	}
}

func main() {
	f, err := os.Open(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	m := map[cell]*counts{}
	r := bufio.NewReaderSize(f, 1<<20)
	for {
		line, err := r.ReadSlice('\n')
		if len(line) > 0 {
			add(m, line)
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
	}
	cells := make([]cell, 0, len(m))
	for c := range m {
		cells = append(cells, c)
	}
	// Minutes sort as text within a day, which is all a night's log spans.
	slices.SortFunc(cells, func(a, b cell) int {
		if a.key != b.key {
			if a.key < b.key {
				return -1
			}
			return 1
		}
		return bytes.Compare(a.minute[:], b.minute[:])
	})
	w := bufio.NewWriterSize(os.Stdout, 1<<20)
	w.WriteString("key,minute,requests,errors\n")
	var b []byte
	for _, c := range cells {
		p := m[c]
		b = append(b[:0], c.key...)
		b = append(b, ',')
		b = append(b, c.minute[:]...)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(p.requests), 10)
		b = append(b, ',')
		b = strconv.AppendInt(b, int64(p.errors), 10)
		b = append(b, '\n')
		w.Write(b)
	}
	if err := w.Flush(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}

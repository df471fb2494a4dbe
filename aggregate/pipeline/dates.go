package pipeline

import (
	"slices"

	"github.com/keyrate/keyrate/aggregate"
	"github.com/keyrate/keyrate/report/schema"
)

const dayMillis = 24 * 60 * 60 * 1000

// dayCount is a number of lines on a UTC day (days since 1970-01-01).
type dayCount struct {
	day, lines int64
}

// dayCounts counts parsed lines per UTC day. A file's lines stay on one
// day for thousands of lines at a time, so a line costs two comparisons
// with the current day's bounds.
type dayCounts struct {
	list       []dayCount
	cur        int   // the current day's index in list
	start, end int64 // its bounds (epoch ms); equal: none yet
}

func (d *dayCounts) add(ts int64) {
	if ts >= d.start && ts < d.end {
		d.list[d.cur].lines++
		return
	}
	d.switchTo(ts)
	d.list[d.cur].lines++
}

func (d *dayCounts) switchTo(ts int64) {
	day := ts / dayMillis
	if ts%dayMillis < 0 {
		day-- // floor, before 1970
	}
	d.start, d.end = day*dayMillis, (day+1)*dayMillis
	for i := range d.list {
		if d.list[i].day == day {
			d.cur = i
			return
		}
	}
	d.list = append(d.list, dayCount{day: day})
	d.cur = len(d.list) - 1
}

func (d *dayCounts) reset() {
	d.list = d.list[:0]
	d.start, d.end = 0, 0
}

// fold adds counts into m.
func fold(m map[int64]int64, counts []dayCount) map[int64]int64 {
	if len(counts) > 0 && m == nil {
		m = map[int64]int64{}
	}
	for _, c := range counts {
		m[c.day] += c.lines
	}
	return m
}

// dateCounts lists m's days as UTC dates, ascending.
func dateCounts(m map[int64]int64) []schema.DateCount {
	days := make([]int64, 0, len(m))
	for d := range m {
		days = append(days, d)
	}
	slices.Sort(days)
	var out []schema.DateCount
	for _, d := range days {
		out = append(out, schema.DateCount{Date: aggregate.Millis(d * dayMillis).Format("2006-01-02"), Lines: m[d]})
	}
	return out
}

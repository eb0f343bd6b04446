package main

import (
	"sort"
	"time"

	"github.com/slipway-dev/slipway/bench/internal/results"
)

// event is one successful response: when it completed (on the traffic's
// clock), how long it took, and which version answered (its tag).
type event struct {
	at  time.Duration
	lat time.Duration
	tag uint8
}

// switchMark is a switch the benchmark issued: when, and to which tag.
type switchMark struct {
	at     time.Duration
	target uint8
}

// switchTiming is what the clients saw of one switch, relative to its
// mark.
type switchTiming struct {
	// firstNew is when the first response from the target arrived; never
	// if none did before the next switch.
	firstNew time.Duration
	// allNew is when the last run of target-only responses began: from
	// then until the next switch no response came from anything else. -1
	// if no response came from the target.
	allNew time.Duration
	// settled is whether that run had at least the required length.
	settled bool
	// oldAfter counts responses from other versions after the mark.
	oldAfter int
}

// analyzeSwitches times each switch from the responses (sorted by at)
// that completed between its mark and the next mark (or end). A switch
// is settled when at least settleN consecutive responses, and every one
// after them up to the next switch, came from its target. Responses with
// tag 0 (unrecognized) count as not from the target.
func analyzeSwitches(events []event, marks []switchMark, end time.Duration, settleN int) []switchTiming {
	out := make([]switchTiming, len(marks))
	for i, m := range marks {
		next := end
		if i+1 < len(marks) {
			next = marks[i+1].at
		}
		lo := sort.Search(len(events), func(j int) bool { return events[j].at >= m.at })
		hi := sort.Search(len(events), func(j int) bool { return events[j].at >= next })
		win := events[lo:hi]
		st := switchTiming{firstNew: results.Never, allNew: results.Never}
		lastOld := -1
		for j, e := range win {
			if e.tag == m.target {
				if st.firstNew == results.Never {
					st.firstNew = e.at - m.at
				}
				continue
			}
			st.oldAfter++
			lastOld = j
		}
		if lastOld+1 < len(win) {
			st.allNew = win[lastOld+1].at - m.at
			st.settled = len(win)-(lastOld+1) >= settleN
		}
		out[i] = st
	}
	return out
}

// disturbed counts the switches during which (from the mark to all
// traffic on the target, or to the next mark) the load generator itself
// stalled.
func disturbed(marks []switchMark, timings []switchTiming, stalls []stall, end time.Duration) int {
	n := 0
	for i, m := range marks {
		until := end
		if i+1 < len(marks) {
			until = marks[i+1].at
		}
		if timings[i].allNew != results.Never {
			until = m.at + timings[i].allNew
		}
		for _, s := range stalls {
			if s.at < until && s.at+s.length > m.at {
				n++
				break
			}
		}
	}
	return n
}

package errortrack

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testNow stands in for the clock in tests.
var testNow = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

// readTestdata reads a file under testdata/envelopes, gunzipping it when
// its name ends in .gz (it is then a gzip request body).
func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "envelopes", name))
	if err != nil {
		t.Fatal(err)
	}
	if strings.HasSuffix(name, ".gz") {
		b, err = Decode("gzip", bytes.NewReader(b), MaxEnvelopeSize)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	return b
}

// readEnvelope parses a file under testdata/envelopes.
func readEnvelope(t testing.TB, name string) *Envelope {
	t.Helper()
	env, err := ParseEnvelope(readTestdata(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return env
}

// readEvent parses the event of a file under testdata/envelopes.
func readEvent(t testing.TB, name string) *Event {
	t.Helper()
	item := readEnvelope(t, name).Event()
	if item == nil {
		t.Fatalf("%s has no event item", name)
	}
	ev, err := ParseEvent(item.Payload, testNow)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ev
}

// testdataFiles lists the files under testdata/envelopes, as names
// readTestdata takes.
func testdataFiles(t testing.TB) []string {
	t.Helper()
	var names []string
	for _, dir := range []string{"go", "node"} {
		entries, err := os.ReadDir(filepath.Join("testdata", "envelopes", dir))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			names = append(names, dir+"/"+e.Name())
		}
	}
	return names
}

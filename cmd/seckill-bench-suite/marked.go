package main

import (
	"errors"
	"fmt"
	"os"
	"strings"
)

// BENCHMARKS.md is written by two programs' modes: make bench rewrites the
// whole file, make bench-ha only its section between these markers. Each
// keeps the other's work: make bench carries the marked section over, make
// bench-ha replaces it in place.
const (
	haBegin = "<!-- bench-ha -->"
	haEnd   = "<!-- /bench-ha -->"
)

// markedBlock returns the block of doc from haBegin to haEnd, both
// included, and where it starts and ends; ok is false when doc has none.
// Markers out of order, or one without the other, are an error: the file
// was edited by hand, and guessing where the block ends could drop text.
func markedBlock(doc string) (block string, start, end int, ok bool, err error) {
	start, end = strings.Index(doc, haBegin), strings.Index(doc, haEnd)
	switch {
	case start < 0 && end < 0:
		return "", 0, 0, false, nil
	case start < 0 || end < start || strings.Count(doc, haBegin) > 1 || strings.Count(doc, haEnd) > 1:
		return "", 0, 0, false, fmt.Errorf("the %s … %s markers are unpaired or repeated", haBegin, haEnd)
	}
	end += len(haEnd)
	return doc[start:end], start, end, true, nil
}

// replaceMarked returns doc with its marked block replaced by block (which
// holds the markers), or with block appended when doc has none.
func replaceMarked(doc, block string) (string, error) {
	_, start, end, ok, err := markedBlock(doc)
	if err != nil {
		return "", err
	}
	if !ok {
		// One blank line between the file's end and the block.
		if doc = strings.TrimRight(doc, "\n"); doc != "" {
			doc += "\n\n"
		}
		return doc + block + "\n", nil
	}
	return doc[:start] + block + doc[end:], nil
}

// keepMarked returns doc, the file make bench is about to write over old,
// with old's marked block carried over to its end: the HA comparison is
// measured by another target and must survive a re-run of make bench.
func keepMarked(doc, old string) (string, error) {
	block, _, _, ok, err := markedBlock(old)
	if err != nil || !ok {
		return doc, err
	}
	return replaceMarked(doc, block)
}

// readIfExists reads path, or returns "" when there is no such file.
func readIfExists(path string) (string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	return string(b), err
}

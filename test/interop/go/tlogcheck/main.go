// Command tlogcheck is an independent verifier for a C2SP tlog-tiles log, built only on Go's
// reference packages golang.org/x/mod/sumdb/{note,tlog}. It shares no code with opa-tlog and is
// the strongest interop evidence we have: a client nobody on the project wrote.
//
// Build (GOPATH mode, no network; Debian's golang-golang-x-mod-dev provides the packages):
//
//	GO111MODULE=off GOPATH=/usr/share/gocode GOFLAGS= go build -o tlogcheck ./test/interop/go/tlogcheck
//
// Modes:
//
//	tlogcheck -url BASE -vkey VKEY [-origin O] [-index 0,5] [-old 1,7] [-all-indices]
//	    Fetches BASE/checkpoint, verifies it with note.Open, authenticates hash tiles against it
//	    with tlog.TileHashReader (C2SP paths tile/L/N[.p/W], i.e. Go's tile/8/L/N[.p/W] without
//	    the height segment), checks tlog.TreeHash == the checkpoint root, proves and checks each
//	    requested index with tlog.ProveRecord/CheckRecord (leaf hash = tlog.RecordHash of the
//	    entry taken from tile/entries/N[.p/W]) and each requested old size with
//	    tlog.ProveTree/CheckTree. Prints a JSON report.
//
//	tlogcheck -mode proofs [-url BASE -vkey VKEY | -size N -root B64] < proofs.json
//	    Checks proofs produced by someone else (our server). stdin holds JSON objects (one, a
//	    stream, or an array) of the form
//	      {"index":I,"tree_size":N,"leaf_hash":B64,"proof":[B64...]}        inclusion
//	      {"from":M,"to":N,"from_root":B64,"proof":[B64...]}                consistency
//	    The root of the target tree comes from the verified checkpoint (for tree_size == its
//	    size) or from tiles authenticated against it (smaller sizes), or from -size/-root.
//	    Optional "root"/"to_root" fields must agree with it. Checked with tlog.CheckRecord /
//	    tlog.CheckTree.
//
//	tlogcheck -mode paths < paths.txt
//	    For each C2SP tile path (one per line) reports what tlog.ParseTilePath makes of the
//	    equivalent Go path.
//
// Exit status 0 on success, 1 with a message on stderr on any failure.
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/ioutil"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

const tileHeight = 8

var b64 = base64.StdEncoding.Strict()

func fail(format string, args ...interface{}) {
	fmt.Fprintf(os.Stderr, "tlogcheck: "+format+"\n", args...)
	os.Exit(1)
}

// ---------------------------------------------------------------------------------------------
// HTTP access.

type fetcher struct {
	base    string
	client  *http.Client
	fetches int
}

func (f *fetcher) get(path string) ([]byte, error) {
	f.fetches++
	resp, err := f.client.Get(f.base + "/" + path)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := ioutil.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", path, resp.StatusCode)
	}
	return data, nil
}

// c2spPath maps a Go tile (height 8) to its C2SP tlog-tiles path: tile/8/L/... -> tile/L/...,
// tile/8/data/... -> tile/entries/....
func c2spPath(t tlog.Tile) (string, error) {
	if t.H != tileHeight {
		return "", fmt.Errorf("tile height %d, want %d", t.H, tileHeight)
	}
	p := t.Path()
	prefix := fmt.Sprintf("tile/%d/", tileHeight)
	if !strings.HasPrefix(p, prefix) {
		return "", fmt.Errorf("unexpected Go tile path %q", p)
	}
	rest := p[len(prefix):]
	if strings.HasPrefix(rest, "data/") {
		rest = "entries/" + rest[len("data/"):]
	}
	return "tile/" + rest, nil
}

// tileReader implements tlog.TileReader over HTTP. Tiles are cached only after
// tlog.TileHashReader has authenticated them (SaveTiles).
type tileReader struct {
	f     *fetcher
	saved map[tlog.Tile][]byte
}

func (r *tileReader) Height() int { return tileHeight }

func (r *tileReader) ReadTiles(tiles []tlog.Tile) ([][]byte, error) {
	out := make([][]byte, len(tiles))
	for i, t := range tiles {
		if d, ok := r.saved[t]; ok {
			out[i] = d
			continue
		}
		p, err := c2spPath(t)
		if err != nil {
			return nil, err
		}
		d, err := r.f.get(p)
		if err != nil {
			return nil, err
		}
		if len(d) != t.W*tlog.HashSize {
			return nil, fmt.Errorf("tile %s has %d bytes, want %d", p, len(d), t.W*tlog.HashSize)
		}
		out[i] = d
	}
	return out, nil
}

func (r *tileReader) SaveTiles(tiles []tlog.Tile, data [][]byte) {
	for i, t := range tiles {
		r.saved[t] = data[i]
	}
}

// ---------------------------------------------------------------------------------------------
// Checkpoint.

type checkpoint struct {
	Origin string
	Tree   tlog.Tree
	Text   string
}

func parseDecimal(s string) (int64, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != s {
		return 0, fmt.Errorf("bad decimal %q", s)
	}
	return n, nil
}

func parseHash(s string) (tlog.Hash, error) {
	d, err := b64.DecodeString(s)
	if err != nil || len(d) != tlog.HashSize || b64.EncodeToString(d) != s {
		return tlog.Hash{}, fmt.Errorf("bad base64 hash %q", s)
	}
	var h tlog.Hash
	copy(h[:], d)
	return h, nil
}

func hashStr(h tlog.Hash) string { return b64.EncodeToString(h[:]) }

var emptyRoot = tlog.Hash(sha256.Sum256(nil))

func fetchCheckpoint(f *fetcher, vkey, wantOrigin string) (*checkpoint, error) {
	verifier, err := note.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("bad vkey: %v", err)
	}
	msg, err := f.get("checkpoint")
	if err != nil {
		return nil, err
	}
	n, err := note.Open(msg, note.VerifierList(verifier))
	if err != nil {
		return nil, fmt.Errorf("checkpoint signature: %v", err)
	}
	// tlog-checkpoint body: origin, decimal size, base64 root, optional extension lines.
	// (tlog.ParseTree expects the go.sum header line, so parse by hand.)
	if !strings.HasSuffix(n.Text, "\n") {
		return nil, errors.New("checkpoint text does not end in a newline")
	}
	lines := strings.Split(strings.TrimSuffix(n.Text, "\n"), "\n")
	if len(lines) < 3 {
		return nil, fmt.Errorf("checkpoint has %d lines, want at least 3", len(lines))
	}
	for _, l := range lines {
		if l == "" {
			return nil, errors.New("checkpoint has an empty line")
		}
	}
	if wantOrigin != "" && lines[0] != wantOrigin {
		return nil, fmt.Errorf("checkpoint origin %q, want %q", lines[0], wantOrigin)
	}
	size, err := parseDecimal(lines[1])
	if err != nil {
		return nil, fmt.Errorf("checkpoint size: %v", err)
	}
	root, err := parseHash(lines[2])
	if err != nil {
		return nil, fmt.Errorf("checkpoint root: %v", err)
	}
	return &checkpoint{Origin: lines[0], Tree: tlog.Tree{N: size, Hash: root}, Text: n.Text}, nil
}

// rootAt returns the authenticated root of the tree of size n <= the checkpoint size.
func rootAt(cp *checkpoint, hr tlog.HashReader, n int64) (tlog.Hash, error) {
	switch {
	case n == cp.Tree.N:
		return cp.Tree.Hash, nil
	case n > cp.Tree.N || n < 0:
		return tlog.Hash{}, fmt.Errorf("size %d is beyond the checkpoint size %d", n, cp.Tree.N)
	case n == 0:
		return emptyRoot, nil // tlog.TreeHash(0) is all zeroes; RFC 6962 says SHA-256("")
	}
	return tlog.TreeHash(n, hr)
}

// ---------------------------------------------------------------------------------------------
// Entry bundles.

func parseBundle(data []byte, width int) ([][]byte, error) {
	var out [][]byte
	for len(data) > 0 {
		if len(data) < 2 {
			return nil, errors.New("truncated length prefix in entry bundle")
		}
		n := int(binary.BigEndian.Uint16(data))
		if len(data) < 2+n {
			return nil, errors.New("truncated entry in entry bundle")
		}
		out = append(out, data[2:2+n])
		data = data[2+n:]
	}
	if len(out) != width {
		return nil, fmt.Errorf("entry bundle holds %d entries, want %d", len(out), width)
	}
	return out, nil
}

type bundleCache struct {
	f       *fetcher
	size    int64
	bundles map[int64][][]byte
}

func (c *bundleCache) entry(index int64) ([]byte, string, error) {
	n := index / (1 << tileHeight)
	w := c.size - n*(1<<tileHeight)
	if w > 1<<tileHeight {
		w = 1 << tileHeight
	}
	t := tlog.Tile{H: tileHeight, L: -1, N: n, W: int(w)}
	p, err := c2spPath(t)
	if err != nil {
		return nil, "", err
	}
	entries, ok := c.bundles[n]
	if !ok {
		data, err := c.f.get(p)
		if err != nil {
			return nil, p, err
		}
		entries, err = parseBundle(data, int(w))
		if err != nil {
			return nil, p, fmt.Errorf("%s: %v", p, err)
		}
		c.bundles[n] = entries
	}
	return entries[index%(1<<tileHeight)], p, nil
}

// ---------------------------------------------------------------------------------------------
// Reports.

type inclusionReport struct {
	Index    int64    `json:"index"`
	TreeSize int64    `json:"tree_size"`
	Bundle   string   `json:"bundle"`
	LeafHash string   `json:"leaf_hash"`
	Proof    []string `json:"proof"`
}

type consistencyReport struct {
	From     int64    `json:"from"`
	To       int64    `json:"to"`
	FromRoot string   `json:"from_root"`
	ToRoot   string   `json:"to_root"`
	Proof    []string `json:"proof"`
}

type tilesReport struct {
	Origin      string              `json:"origin"`
	Size        int64               `json:"size"`
	Root        string              `json:"root"`
	TreeHash    string              `json:"tree_hash"`
	Inclusion   []inclusionReport   `json:"inclusion"`
	Consistency []consistencyReport `json:"consistency"`
	Fetches     int                 `json:"fetches"`
}

func hashList(hs []tlog.Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = hashStr(h)
	}
	return out
}

func parseList(s string) ([]int64, error) {
	var out []int64
	if s == "" {
		return out, nil
	}
	for _, f := range strings.Split(s, ",") {
		n, err := parseDecimal(strings.TrimSpace(f))
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func runTiles(f *fetcher, vkey, origin, indexList, oldList string, all bool) error {
	cp, err := fetchCheckpoint(f, vkey, origin)
	if err != nil {
		return err
	}
	tr := &tileReader{f: f, saved: map[tlog.Tile][]byte{}}
	hr := tlog.TileHashReader(cp.Tree, tr)
	rep := tilesReport{Origin: cp.Origin, Size: cp.Tree.N, Root: hashStr(cp.Tree.Hash)}

	if cp.Tree.N == 0 {
		if cp.Tree.Hash != emptyRoot {
			return errors.New("size-0 checkpoint does not carry SHA-256(\"\")")
		}
		rep.TreeHash = hashStr(emptyRoot)
	} else {
		th, err := tlog.TreeHash(cp.Tree.N, hr)
		if err != nil {
			return fmt.Errorf("TreeHash(%d): %v", cp.Tree.N, err)
		}
		if th != cp.Tree.Hash {
			return fmt.Errorf("TreeHash(%d) = %s, checkpoint root %s", cp.Tree.N, hashStr(th), hashStr(cp.Tree.Hash))
		}
		rep.TreeHash = hashStr(th)
	}

	indices, err := parseList(indexList)
	if err != nil {
		return fmt.Errorf("-index: %v", err)
	}
	if all {
		indices = indices[:0]
		for i := int64(0); i < cp.Tree.N; i++ {
			indices = append(indices, i)
		}
	}
	bundles := &bundleCache{f: f, size: cp.Tree.N, bundles: map[int64][][]byte{}}
	for _, i := range indices {
		if i >= cp.Tree.N {
			return fmt.Errorf("index %d is not below the checkpoint size %d", i, cp.Tree.N)
		}
		e, path, err := bundles.entry(i)
		if err != nil {
			return fmt.Errorf("entry %d: %v", i, err)
		}
		leaf := tlog.RecordHash(e)
		p, err := tlog.ProveRecord(cp.Tree.N, i, hr)
		if err != nil {
			return fmt.Errorf("ProveRecord(%d, %d): %v", cp.Tree.N, i, err)
		}
		if err := tlog.CheckRecord(p, cp.Tree.N, cp.Tree.Hash, i, leaf); err != nil {
			return fmt.Errorf("CheckRecord(index %d, size %d): %v", i, cp.Tree.N, err)
		}
		rep.Inclusion = append(rep.Inclusion, inclusionReport{
			Index: i, TreeSize: cp.Tree.N, Bundle: path, LeafHash: hashStr(leaf), Proof: hashList(p),
		})
	}

	olds, err := parseList(oldList)
	if err != nil {
		return fmt.Errorf("-old: %v", err)
	}
	for _, m := range olds {
		if m < 1 || m > cp.Tree.N {
			return fmt.Errorf("old size %d is not in 1..%d", m, cp.Tree.N)
		}
		oldRoot, err := rootAt(cp, hr, m)
		if err != nil {
			return fmt.Errorf("TreeHash(%d): %v", m, err)
		}
		p, err := tlog.ProveTree(cp.Tree.N, m, hr)
		if err != nil {
			return fmt.Errorf("ProveTree(%d, %d): %v", cp.Tree.N, m, err)
		}
		if err := tlog.CheckTree(p, cp.Tree.N, cp.Tree.Hash, m, oldRoot); err != nil {
			return fmt.Errorf("CheckTree(%d -> %d): %v", m, cp.Tree.N, err)
		}
		rep.Consistency = append(rep.Consistency, consistencyReport{
			From: m, To: cp.Tree.N, FromRoot: hashStr(oldRoot), ToRoot: hashStr(cp.Tree.Hash), Proof: hashList(p),
		})
	}
	rep.Fetches = f.fetches
	return json.NewEncoder(os.Stdout).Encode(rep)
}

// ---------------------------------------------------------------------------------------------
// Checking proofs made by someone else.

type proofInput struct {
	Index    *int64   `json:"index"`
	TreeSize *int64   `json:"tree_size"`
	LeafHash string   `json:"leaf_hash"`
	Root     string   `json:"root"`
	From     *int64   `json:"from"`
	To       *int64   `json:"to"`
	FromRoot string   `json:"from_root"`
	ToRoot   string   `json:"to_root"`
	Proof    []string `json:"proof"`
}

type proofResult struct {
	Kind   string `json:"kind"`
	Index  *int64 `json:"index,omitempty"`
	Size   *int64 `json:"tree_size,omitempty"`
	From   *int64 `json:"from,omitempty"`
	To     *int64 `json:"to,omitempty"`
	Root   string `json:"root"`
	Anchor string `json:"anchor"`
	OK     bool   `json:"ok"`
	Error  string `json:"error,omitempty"`
}

// anchor returns the trusted root for a tree of size n and where it came from.
type anchorFunc func(n int64) (tlog.Hash, string, error)

func readInputs(r io.Reader) ([]proofInput, error) {
	data, err := ioutil.ReadAll(r)
	if err != nil {
		return nil, err
	}
	data = bytes.TrimSpace(data)
	if len(data) > 0 && data[0] == '[' {
		var list []proofInput
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&list); err != nil {
			return nil, err
		}
		return list, nil
	}
	var out []proofInput
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	for {
		var in proofInput
		if err := dec.Decode(&in); err == io.EOF {
			break
		} else if err != nil {
			return nil, err
		}
		out = append(out, in)
	}
	return out, nil
}

func parseProof(list []string) (tlog.RecordProof, error) {
	out := make(tlog.RecordProof, len(list))
	for i, s := range list {
		h, err := parseHash(s)
		if err != nil {
			return nil, fmt.Errorf("proof[%d]: %v", i, err)
		}
		out[i] = h
	}
	return out, nil
}

func optionalRootMatches(given string, want tlog.Hash) error {
	if given == "" {
		return nil
	}
	h, err := parseHash(given)
	if err != nil {
		return err
	}
	if h != want {
		return fmt.Errorf("claimed root %s differs from the trusted root %s", given, hashStr(want))
	}
	return nil
}

func checkOne(in proofInput, anchor anchorFunc) proofResult {
	res := proofResult{}
	proof, err := parseProof(in.Proof)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	switch {
	case in.Index != nil && in.TreeSize != nil && in.From == nil && in.To == nil:
		res.Kind, res.Index, res.Size = "inclusion", in.Index, in.TreeSize
		root, from, err := anchor(*in.TreeSize)
		if err != nil {
			res.Error = err.Error()
			return res
		}
		res.Root, res.Anchor = hashStr(root), from
		if err := optionalRootMatches(in.Root, root); err != nil {
			res.Error = err.Error()
			return res
		}
		leaf, err := parseHash(in.LeafHash)
		if err != nil {
			res.Error = "leaf_hash: " + err.Error()
			return res
		}
		if err := tlog.CheckRecord(proof, *in.TreeSize, root, *in.Index, leaf); err != nil {
			res.Error = "CheckRecord: " + err.Error()
			return res
		}
	case in.From != nil && in.To != nil && in.Index == nil && in.TreeSize == nil:
		res.Kind, res.From, res.To = "consistency", in.From, in.To
		root, from, err := anchor(*in.To)
		if err != nil {
			res.Error = err.Error()
			return res
		}
		res.Root, res.Anchor = hashStr(root), from
		if err := optionalRootMatches(in.ToRoot, root); err != nil {
			res.Error = err.Error()
			return res
		}
		oldRoot, err := parseHash(in.FromRoot)
		if err != nil {
			res.Error = "from_root: " + err.Error()
			return res
		}
		if *in.From == 0 {
			// Go's CheckTree rejects size 0; the deployed convention (tlog-witness) is an empty
			// proof from the empty tree, whose root is SHA-256("").
			if len(proof) != 0 || oldRoot != emptyRoot || *in.To < 0 {
				res.Error = "consistency from size 0 needs an empty proof and the empty-tree root"
				return res
			}
			res.Anchor += "+size0-convention"
		} else if err := tlog.CheckTree(tlog.TreeProof(proof), *in.To, root, *in.From, oldRoot); err != nil {
			res.Error = "CheckTree: " + err.Error()
			return res
		}
	default:
		res.Error = "input is neither {index, tree_size, ...} nor {from, to, ...}"
		return res
	}
	res.OK = true
	return res
}

func runProofs(f *fetcher, vkey, origin string, size int64, rootFlag string) error {
	var anchor anchorFunc
	switch {
	case f != nil:
		cp, err := fetchCheckpoint(f, vkey, origin)
		if err != nil {
			return err
		}
		hr := tlog.TileHashReader(cp.Tree, &tileReader{f: f, saved: map[tlog.Tile][]byte{}})
		anchor = func(n int64) (tlog.Hash, string, error) {
			h, err := rootAt(cp, hr, n)
			if n == cp.Tree.N {
				return h, "checkpoint", err
			}
			return h, "tiles", err
		}
	case rootFlag != "":
		root, err := parseHash(rootFlag)
		if err != nil {
			return fmt.Errorf("-root: %v", err)
		}
		anchor = func(n int64) (tlog.Hash, string, error) {
			if n != size {
				return tlog.Hash{}, "", fmt.Errorf("tree size %d, but -size is %d", n, size)
			}
			return root, "flag", nil
		}
	default:
		return errors.New("-mode proofs needs -url and -vkey, or -size and -root")
	}
	inputs, err := readInputs(os.Stdin)
	if err != nil {
		return fmt.Errorf("stdin: %v", err)
	}
	if len(inputs) == 0 {
		return errors.New("stdin holds no proofs")
	}
	results := make([]proofResult, len(inputs))
	failed := 0
	for i, in := range inputs {
		results[i] = checkOne(in, anchor)
		if !results[i].OK {
			failed++
		}
	}
	if err := json.NewEncoder(os.Stdout).Encode(map[string]interface{}{"results": results}); err != nil {
		return err
	}
	if failed > 0 {
		for i, r := range results {
			if !r.OK {
				return fmt.Errorf("proof %d (%s): %s", i, r.Kind, r.Error)
			}
		}
	}
	return nil
}

// ---------------------------------------------------------------------------------------------
// Path parsing cross-check.

type pathResult struct {
	Path  string `json:"path"`
	OK    bool   `json:"ok"`
	Kind  string `json:"kind,omitempty"`
	Level int    `json:"level"`
	Index int64  `json:"index"`
	Width int    `json:"width"`
}

func runPaths() error {
	var out []pathResult
	sc := bufio.NewScanner(os.Stdin)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		p := sc.Text()
		res := pathResult{Path: p}
		if strings.HasPrefix(p, "tile/") {
			rest := p[len("tile/"):]
			if strings.HasPrefix(rest, "entries/") {
				rest = "data/" + rest[len("entries/"):]
			}
			goPath := fmt.Sprintf("tile/%d/%s", tileHeight, rest)
			if t, err := tlog.ParseTilePath(goPath); err == nil {
				back, err := c2spPath(t)
				if err == nil && back == p {
					res.OK, res.Level, res.Index, res.Width = true, t.L, t.N, t.W
					res.Kind = "hash"
					if t.L == -1 {
						res.Kind, res.Level = "entries", 0
					}
				}
			}
		}
		out = append(out, res)
	}
	if err := sc.Err(); err != nil {
		return err
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

func main() {
	mode := flag.String("mode", "tiles", "tiles | proofs | paths")
	url := flag.String("url", "", "log URL prefix (checkpoint at URL/checkpoint)")
	vkey := flag.String("vkey", "", "note verifier key of the log")
	origin := flag.String("origin", "", "required checkpoint origin (optional)")
	indices := flag.String("index", "", "comma-separated leaf indices to prove (tiles mode)")
	all := flag.Bool("all-indices", false, "prove every leaf index (tiles mode)")
	olds := flag.String("old", "", "comma-separated old tree sizes to prove consistency from (tiles mode)")
	size := flag.Int64("size", -1, "trusted tree size (proofs mode without -url)")
	root := flag.String("root", "", "trusted base64 root for -size (proofs mode without -url)")
	flag.Parse()
	if flag.NArg() != 0 {
		fail("unexpected arguments %q", flag.Args())
	}

	var f *fetcher
	if *url != "" {
		if *vkey == "" {
			fail("-url needs -vkey")
		}
		// No proxy: the harness talks to local test servers.
		client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil}}
		f = &fetcher{base: strings.TrimSuffix(*url, "/"), client: client}
	}

	var err error
	switch *mode {
	case "tiles":
		if f == nil {
			fail("tiles mode needs -url and -vkey")
		}
		err = runTiles(f, *vkey, *origin, *indices, *olds, *all)
	case "proofs":
		err = runProofs(f, *vkey, *origin, *size, *root)
	case "paths":
		err = runPaths()
	default:
		fail("unknown -mode %q", *mode)
	}
	if err != nil {
		fail("%v", err)
	}
}

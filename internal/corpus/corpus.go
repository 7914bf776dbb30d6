// Package corpus records the traffic of the portal and the bus as a
// directory of messages with their answers, and replays such a directory
// against a running stack, comparing every answer with the recorded one.
//
// A corpus directory holds one file per message (the request body exactly
// as received) and corpus.json, the metadata: for each message its order,
// where it goes, its method, path and content type, the session it used,
// and the expected answer (HTTP status and refusal or fault code).
package corpus

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// Kinds of message.
const (
	KindPortal = "portal" // an HTTP request to the portal API
	KindSHEP   = "shep"   // a SOAP envelope to the bus
)

// IndexFile is the metadata file of a corpus.
const IndexFile = "corpus.json"

// Entry is one recorded message.
type Entry struct {
	Seq         int    `json:"seq"`
	Name        string `json:"name"`
	Kind        string `json:"kind"`
	Method      string `json:"method"`
	Path        string `json:"path"` // with the query
	ContentType string `json:"contentType,omitempty"`
	Language    string `json:"language,omitempty"`
	File        string `json:"file,omitempty"` // body, relative to the directory
	// Session names the session the request used (a digest of its token),
	// Opens the session a login answered with; replay maps them to the
	// sessions it gets.
	Session string `json:"session,omitempty"`
	Opens   string `json:"opens,omitempty"`
	Expect  Expect `json:"expect"`
	Note    string `json:"note,omitempty"`
}

// Expect is the answer a message must get.
type Expect struct {
	Status int `json:"status"`
	// Code is the problem code of a refusal, the SHEP fault code, or for a
	// SHEP success the answering operation; "" for other successes.
	Code string `json:"code,omitempty"`
}

// Corpus is a directory of entries.
type Corpus struct {
	Dir     string
	Entries []Entry
	files   fs.FS // where Dir's files are read from
}

// Load reads a corpus directory.
func Load(dir string) (*Corpus, error) {
	return LoadFS(os.DirFS(dir), dir)
}

// LoadFS reads a corpus from files (such as the curated corpus built into
// the binary); name is what messages call it.
func LoadFS(files fs.FS, name string) (*Corpus, error) {
	data, err := fs.ReadFile(files, IndexFile)
	if err != nil {
		return nil, fmt.Errorf("corpus %s: %w", name, err)
	}
	c := &Corpus{Dir: name, files: files}
	if err := json.Unmarshal(data, &c.Entries); err != nil {
		return nil, fmt.Errorf("corpus %s: %w", name, err)
	}
	sort.SliceStable(c.Entries, func(i, j int) bool { return c.Entries[i].Seq < c.Entries[j].Seq })
	return c, nil
}

// Body returns an entry's request body.
func (c *Corpus) Body(e Entry) ([]byte, error) {
	if e.File == "" {
		return nil, nil
	}
	if !fs.ValidPath(e.File) {
		return nil, fmt.Errorf("corpus %s: entry file %q is not a path inside the corpus", c.Dir, e.File)
	}
	files := c.files
	if files == nil { // a Corpus built by hand: its directory
		files = os.DirFS(c.Dir)
	}
	return fs.ReadFile(files, e.File)
}

// Save writes the index.
func (c *Corpus) Save() error {
	data, err := json.MarshalIndent(c.Entries, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(c.Dir, IndexFile), append(data, '\n'), 0o644)
}

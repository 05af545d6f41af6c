// tlogcheck checks the gate's checkpoints and proofs with Go's reference packages
// (golang.org/x/mod/sumdb/note and sumdb/tlog), and makes notes for the gate to check.
//
//	tlogcheck open VKEY NOTE_FILE          print the note's text if VKEY signed it
//	tlogcheck prove VKEY PROOF_FILE        check an `audit prove` file: signature and inclusion
//	tlogcheck consistent VKEY OLD NEW P... NEW extends OLD (two checkpoint files), proof hashes in base64
//	tlogcheck sign SKEY TEXT_FILE          print TEXT_FILE signed with SKEY
//	tlogcheck keygen NAME                  print a new signer key and its verifier key
package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "tlogcheck:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	if len(args) < 2 {
		return fmt.Errorf("usage: tlogcheck open|prove|consistent|sign|keygen ...")
	}
	switch args[0] {
	case "open":
		n, err := open(args[1], readFile(args[2]))
		if err != nil {
			return err
		}
		fmt.Print(n.Text)
	case "prove":
		var p struct {
			Record     string   `json:"record"`
			LeafIndex  int64    `json:"leaf_index"`
			Inclusion  []string `json:"inclusion_proof"`
			Checkpoint string   `json:"checkpoint"`
		}
		if err := json.Unmarshal(readFile(args[2]), &p); err != nil {
			return err
		}
		size, root, err := checkpoint(args[1], []byte(p.Checkpoint))
		if err != nil {
			return err
		}
		proof, err := hashes(p.Inclusion)
		if err != nil {
			return err
		}
		if err := tlog.CheckRecord(proof, size, root, p.LeafIndex, tlog.RecordHash([]byte(p.Record))); err != nil {
			return err
		}
		fmt.Printf("record %d is in the tree of size %d\n", p.LeafIndex, size)
	case "consistent":
		oldSize, oldRoot, err := checkpoint(args[1], readFile(args[2]))
		if err != nil {
			return err
		}
		newSize, newRoot, err := checkpoint(args[1], readFile(args[3]))
		if err != nil {
			return err
		}
		proof, err := hashes(args[4:])
		if err != nil {
			return err
		}
		if err := tlog.CheckTree(proof, newSize, newRoot, oldSize, oldRoot); err != nil {
			return err
		}
		fmt.Printf("tree of size %d extends tree of size %d\n", newSize, oldSize)
	case "sign":
		signer, err := note.NewSigner(strings.TrimSpace(args[1]))
		if err != nil {
			return err
		}
		msg, err := note.Sign(&note.Note{Text: string(readFile(args[2]))}, signer)
		if err != nil {
			return err
		}
		os.Stdout.Write(msg)
	case "keygen":
		skey, vkey, err := note.GenerateKey(rand.Reader, args[1])
		if err != nil {
			return err
		}
		fmt.Println(skey)
		fmt.Println(vkey)
	default:
		return fmt.Errorf("unknown command %q", args[0])
	}
	return nil
}

func readFile(name string) []byte {
	data, err := os.ReadFile(name)
	if err != nil {
		fmt.Fprintln(os.Stderr, "tlogcheck:", err)
		os.Exit(2)
	}
	return data
}

func open(vkey string, msg []byte) (*note.Note, error) {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return nil, err
	}
	return note.Open(msg, note.VerifierList(v))
}

// checkpoint opens a signed C2SP checkpoint: origin, size, base64 root hash.
func checkpoint(vkey string, msg []byte) (int64, tlog.Hash, error) {
	n, err := open(vkey, msg)
	if err != nil {
		return 0, tlog.Hash{}, err
	}
	lines := strings.SplitN(n.Text, "\n", 4)
	if len(lines) < 4 {
		return 0, tlog.Hash{}, fmt.Errorf("not a checkpoint")
	}
	size, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil {
		return 0, tlog.Hash{}, err
	}
	root, err := tlog.ParseHash(lines[2])
	return size, root, err
}

func hashes(encoded []string) ([]tlog.Hash, error) {
	var out []tlog.Hash
	for _, e := range encoded {
		raw, err := base64.StdEncoding.DecodeString(e)
		if err != nil || len(raw) != tlog.HashSize {
			return nil, fmt.Errorf("bad hash %q", e)
		}
		var h tlog.Hash
		copy(h[:], raw)
		out = append(out, h)
	}
	return out, nil
}

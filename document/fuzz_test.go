package document_test

import (
	"os"
	"testing"

	"github.com/beevik/etree"

	"egov"
	"egov/document"
)

// fuzzRoot parses fuzz input; inputs that are not XML are not the readers'.
func fuzzRoot(data []byte) *etree.Element {
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(data); err != nil {
		return nil
	}
	return doc.Root()
}

// refusedWithCode fails unless a refusal carries a code of the table that
// is not the internal error.
func refusedWithCode(t *testing.T, err error) {
	t.Helper()
	if code := egov.ErrorCode(err); !code.Known() || code == egov.CodeInternal {
		t.Fatalf("refusal without a table code: %v", err)
	}
}

// FuzzReadRequest reads arbitrary XML as a request: never a panic, every
// refusal with a code of the table, and what it accepts is written and
// read back as the same request (the writer and the reader agree).
func FuzzReadRequest(f *testing.F) {
	for _, name := range []string{"valid.xml", "valid-second-citizen.xml", "auth-key.xml"} {
		if data, err := os.ReadFile("../fixtures/signing/" + name); err == nil {
			f.Add(data)
		}
	}
	f.Add(aRequest().Document())
	f.Add(aFiledRequest().Document())
	f.Add([]byte(`<ServiceRequest xmlns="` + document.RequestNamespace + `" version="1"><RequestId>x</RequestId></ServiceRequest>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		root := fuzzRoot(data)
		if root == nil {
			return
		}
		first, err := document.ReadRequest(root)
		if err != nil {
			refusedWithCode(t, err)
			return
		}
		written := first.Document()
		again := fuzzRoot(written)
		if again == nil {
			t.Fatalf("the writer wrote what is not XML:\n%s", written)
		}
		second, err := document.ReadRequest(again)
		if err != nil {
			t.Fatalf("the reader refuses what the writer wrote: %v\n%s", err, written)
		}
		if !sameRequest(first, second) {
			t.Fatalf("read %+v, after writing %+v", first, second)
		}
	})
}

// FuzzReadResult: the same for the provider's result.
func FuzzReadResult(f *testing.F) {
	if data, err := os.ReadFile("../fixtures/signing/valid-provider.xml"); err == nil {
		f.Add(data)
	}
	f.Add(aResult().Document())
	f.Add(aRefusal().Document())
	f.Fuzz(func(t *testing.T, data []byte) {
		root := fuzzRoot(data)
		if root == nil {
			return
		}
		first, err := document.ReadResult(root)
		if err != nil {
			refusedWithCode(t, err)
			return
		}
		written := first.Document()
		again := fuzzRoot(written)
		if again == nil {
			t.Fatalf("the writer wrote what is not XML:\n%s", written)
		}
		second, err := document.ReadResult(again)
		if err != nil {
			t.Fatalf("the reader refuses what the writer wrote: %v\n%s", err, written)
		}
		if !sameResult(first, second) {
			t.Fatalf("read %+v, after writing %+v", first, second)
		}
	})
}

// FuzzReadNotice: the same for the provider's notice.
func FuzzReadNotice(f *testing.F) {
	f.Add(aNotice().Document())
	f.Add([]byte(`<ProviderNotice xmlns="urn:egov-gateway:result:v1"><RequestId>6f1c2a8e-4b7d-4f3e-9a51-0c2d7e8b9f10</RequestId><Status>accepted-for-processing</Status></ProviderNotice>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		root := fuzzRoot(data)
		if root == nil {
			return
		}
		first, err := document.ReadNotice(root)
		if err != nil {
			refusedWithCode(t, err)
			return
		}
		again := fuzzRoot(first.Document())
		if again == nil {
			t.Fatalf("the writer wrote what is not XML:\n%s", first.Document())
		}
		second, err := document.ReadNotice(again)
		if err != nil || *second != *first {
			t.Fatalf("read %+v, after writing %+v (%v)", first, second, err)
		}
	})
}

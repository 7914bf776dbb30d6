# egov-gateway: the two commands a newcomer needs are `make run` and `make test`.

GO        ?= go
FUZZTIME  ?= 10s
DATA      ?= data
OCSP_ADDR ?= 127.0.0.1:8889

.PHONY: run test vet unit fuzz-short fuzz bench build clean

## run: start what the stack has today (see README): a local test PKI and its OCSP responder
run: build
	@test -f $(DATA)/pki/ca.crt || ./bin/egovctl pki init --dir $(DATA)/pki
	./bin/egovctl pki crl --dir $(DATA)/pki --out $(DATA)/pki/crl.pem
	./bin/egovctl pki ocsp --dir $(DATA)/pki --listen $(OCSP_ADDR)

## test: everything CI runs: vet, all tests with the race detector, a short fuzz pass
test: vet unit fuzz-short

vet:
	$(GO) vet ./...

unit:
	$(GO) test -race -count=1 ./...

# Every Fuzz target of every package, briefly (FUZZTIME each).
fuzz-short:
	@FUZZTIME=$(FUZZTIME) ./.ci/fuzz

## fuzz: every fuzz target for longer (FUZZTIME=2m each); crashers land in testdata/fuzz
fuzz:
	@FUZZTIME=2m ./.ci/fuzz

## bench: the Go benchmarks of every package
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

build:
	$(GO) build -o bin/ ./cmd/...

clean:
	rm -rf bin

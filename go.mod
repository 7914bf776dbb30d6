module egov

go 1.26.0

require (
	github.com/beevik/etree v1.8.1
	github.com/jonboulle/clockwork v0.5.0
	github.com/mattermost/xml-roundtrip-validator v0.1.0
	github.com/russellhaering/goxmldsig v1.6.1
	golang.org/x/crypto v0.58.0
	software.sslmate.com/src/go-pkcs12 v0.7.4
)

require github.com/stretchr/testify v1.12.1 // indirect

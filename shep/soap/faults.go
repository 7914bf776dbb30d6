package soap

import "time"

// SHEP fault codes (research/bus.md §1.6).
const (
	CodeFormat                  = "SCE001" // message does not match the format
	CodeUnknownService          = "SCE004" // service does not exist or is not available to the sender
	CodeTransportSignatureStale = "SCE005" // transport-signature certificate not valid
	CodeTransportSignatureBad   = "SCE006" // bad transport signature
	CodeTransportUnsigned       = "SCE007" // message not signed
	CodeDataSignatureStale      = "SCE015" // business-data certificate not valid
	CodeDataSignatureBad        = "SCE016" // bad business-data signature
	CodeDataUnsigned            = "SCE017" // business data not signed
	CodeInternal                = "SCE909" // internal error
)

// faultMessages are the texts SHEP uses, in Russian as on the real bus.
var faultMessages = map[string]string{
	CodeFormat:                  "Сообщение не соответствует формату",
	CodeUnknownService:          "Сервис не существует",
	CodeTransportSignatureStale: "Транспортная подпись не актуальная",
	CodeTransportSignatureBad:   "Не верная транспортная подпись",
	CodeTransportUnsigned:       "Сообщение не подписано",
	CodeDataSignatureStale:      "Подпись бизнес-данных не актуальная",
	CodeDataSignatureBad:        "Не верная подпись бизнес-данных",
	CodeDataUnsigned:            "Бизнес-данные не подписаны",
	CodeInternal:                "Внутренняя ошибка ИС",
}

// FaultCodes lists every SHEP fault code.
func FaultCodes() []string {
	return []string{CodeFormat, CodeUnknownService, CodeTransportSignatureStale, CodeTransportSignatureBad,
		CodeTransportUnsigned, CodeDataSignatureStale, CodeDataSignatureBad, CodeDataUnsigned, CodeInternal}
}

// NewFault builds the fault for operation op with a SHEP code; data says
// what exactly was wrong (never personal data). Every code but SCE909 is
// the caller's mistake.
func NewFault(op, code, data string, at time.Time) *Fault {
	msg, ok := faultMessages[code]
	if !ok {
		code, msg = CodeInternal, faultMessages[CodeInternal]
	}
	return &Fault{
		Operation: op,
		Client:    code != CodeInternal,
		Info:      ErrorInfo{ErrorCode: code, ErrorMessage: msg, ErrorData: data, ErrorDate: at.UTC()},
	}
}

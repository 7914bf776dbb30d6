// Package egov holds the domain types shared by every part of the gateway:
// the table of refusal codes with their messages in Russian, Kazakh and
// English, and the error type that carries one of those codes.
//
// Codes are named after the step of the regulation they come from (signature
// not confirmed, authorisation refused, documents rejected) and never change
// once published: clients, testers' corpora and dashboards depend on them.
package egov

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// Code is a stable, machine-readable reason for a refusal.
type Code string

// Refusal codes of the signature check (condition C2, process P4 "signature
// not confirmed" of the regulations).
const (
	CodeXMLMalformed           Code = "xml-malformed"
	CodeXMLTooLarge            Code = "xml-too-large"
	CodeXMLTooDeep             Code = "xml-too-deep"
	CodeXMLDoctypeForbidden    Code = "xml-doctype-forbidden"
	CodeXMLPIForbidden         Code = "xml-pi-forbidden"
	CodeXMLCommentForbidden    Code = "xml-comment-forbidden"
	CodeSignatureMissing       Code = "signature-missing"
	CodeSignatureMultiple      Code = "signature-multiple"
	CodeSignatureMisplaced     Code = "signature-misplaced"
	CodeReferenceInvalid       Code = "reference-invalid"
	CodeAlgorithmForbidden     Code = "algorithm-forbidden"
	CodeAlgorithmGOST          Code = "algorithm-gost-unsupported"
	CodeKeyTooWeak             Code = "key-too-weak"
	CodeCertificateMalformed   Code = "certificate-malformed"
	CodeCertificateUntrusted   Code = "certificate-untrusted"
	CodeCertificateExpired     Code = "certificate-expired"
	CodeCertificateNotYetValid Code = "certificate-not-yet-valid"
	CodeCertificateRevoked     Code = "certificate-revoked"
	CodeRevocationUnknown      Code = "revocation-unknown"
	CodeKeyUsageInvalid        Code = "key-usage-invalid"
	CodeSignatureInvalid       Code = "signature-invalid"
	CodeIINMismatch            Code = "iin-mismatch"
	CodeBINMismatch            Code = "bin-mismatch"
	CodeIINInvalid             Code = "iin-invalid"
	CodeBINInvalid             Code = "bin-invalid"
	CodeSignatureShape         Code = "signature-shape-invalid"
	CodeXMLTooManyAttributes   Code = "xml-too-many-attributes"
	CodeSignerNotAuthorised    Code = "signer-not-authorised"
)

// Refusal codes of the portal (processes P1–P3 and the submission of the
// regulations; document refusals P6 come from the provider).
const (
	CodeAuthorizationRefused Code = "authorization-refused"
	CodeRateLimited          Code = "rate-limited"
	CodeAccountExists        Code = "account-exists"
	CodePasswordWeak         Code = "password-weak"
	CodePhoneInvalid         Code = "phone-invalid"
	CodeNotFound             Code = "not-found"
	CodeBodyTooLarge         Code = "body-too-large"
	CodeMediaUnsupported     Code = "media-unsupported"
	CodeServiceUnknown       Code = "service-unknown"
	CodeServiceNotOnPortal   Code = "service-not-on-portal"
	CodeRegionNotServed      Code = "region-not-served"
	CodeFormInvalid          Code = "form-invalid"
	CodeAttachmentMissing    Code = "attachment-missing"
	CodeAttachmentMismatch   Code = "attachment-mismatch"
	CodeAttachmentUndeclared Code = "attachment-undeclared"
	CodeAttachmentRejected   Code = "attachment-rejected"
	CodeRequestStale         Code = "request-stale"
	CodeRequestReplayed      Code = "request-replayed"
	CodeUnavailable          Code = "service-unavailable"
	CodeIdentityNotProven    Code = "identity-not-proven"
	CodeOneTimeCodeInvalid   Code = "one-time-code-invalid"
	CodePhoneNotRegistered   Code = "phone-not-registered"
	CodeAttachmentTypeFalse  Code = "attachment-type-mismatch"
	CodeRequestMalformed     Code = "request-malformed"
	CodeMethodNotAllowed     Code = "method-not-allowed"
	// CodeFormExpired refuses a page's form sent without its anti-forgery
	// token, or from another site.
	CodeFormExpired       Code = "form-expired"
	CodeRequestTimeout    Code = "request-timeout"
	CodeCalendarExhausted Code = "calendar-exhausted"
	// CodeDataUnobtainable is the State Corporation counter's P4: a
	// register consulted at intake has no data of the applicant or of the
	// representative's power of attorney; the detail names the register.
	CodeDataUnobtainable Code = "data-unobtainable"
	// CodeHandOutRefused: a result handed out at a counter must be ready,
	// not handed out before, and go to the applicant or his representative.
	CodeHandOutRefused Code = "hand-out-refused"
)

// Refusal codes of the answers the portal receives from providers: an
// answer refused with one of these never reaches a cabinet and stays with
// the bus's operators as a dead letter.
const (
	CodeAnswerUnmatched Code = "answer-unmatched"
)

// CodeInternal is used when the refusal is our fault, not the caller's.
const CodeInternal Code = "internal-error"

// Message is one refusal reason in the three languages the portal speaks.
type Message struct {
	RU string `json:"ru"`
	KK string `json:"kk"`
	EN string `json:"en"`
}

// In returns the text for a language tag (ru, kk, en); anything else is
// Russian, the portal's default.
func (m Message) In(lang string) string {
	switch lang {
	case "kk":
		return m.KK
	case "en":
		return m.EN
	}
	return m.RU
}

// codeInfo is one row of the code table.
type codeInfo struct {
	status int
	msg    Message
}

// signatureNotConfirmed prefixes every C2 refusal, as the regulation words it.
var signatureNotConfirmed = Message{
	RU: "Подпись не подтверждена",
	KK: "Қолтаңба расталмады",
	EN: "Signature not confirmed",
}

func refusal(status int, ru, kk, en string) codeInfo {
	return codeInfo{status: status, msg: Message{
		RU: signatureNotConfirmed.RU + ": " + ru,
		KK: signatureNotConfirmed.KK + ": " + kk,
		EN: signatureNotConfirmed.EN + ": " + en,
	}}
}

func plain(status int, ru, kk, en string) codeInfo {
	return codeInfo{status: status, msg: Message{RU: ru, KK: kk, EN: en}}
}

// codes is the single table of refusal codes: HTTP status and messages.
var codes = map[Code]codeInfo{
	CodeXMLMalformed: refusal(http.StatusBadRequest,
		"документ не является корректным XML",
		"құжат дұрыс құрылған XML емес",
		"the document is not well-formed XML"),
	CodeXMLTooLarge: refusal(http.StatusRequestEntityTooLarge,
		"документ превышает допустимый размер",
		"құжат рұқсат етілген көлемнен асады",
		"the document exceeds the size limit"),
	CodeXMLTooDeep: refusal(http.StatusBadRequest,
		"документ слишком глубоко вложен или содержит слишком много элементов",
		"құжаттың кірістіру деңгейі тым терең немесе элементтері тым көп",
		"the document is nested too deeply or has too many elements"),
	CodeXMLDoctypeForbidden: refusal(http.StatusBadRequest,
		"объявление DOCTYPE и сущности запрещены",
		"DOCTYPE жариялауына және entity-лерге тыйым салынған",
		"DOCTYPE declarations and entities are forbidden"),
	CodeXMLPIForbidden: refusal(http.StatusBadRequest,
		"инструкции обработки запрещены",
		"өңдеу нұсқауларына тыйым салынған",
		"processing instructions are forbidden"),
	CodeXMLCommentForbidden: refusal(http.StatusBadRequest,
		"комментарии в документе запрещены",
		"құжаттағы түсініктемелерге тыйым салынған",
		"comments are forbidden in the document"),
	CodeSignatureMissing: refusal(http.StatusBadRequest,
		"документ не подписан",
		"құжатқа қол қойылмаған",
		"the document carries no signature"),
	CodeSignatureMultiple: refusal(http.StatusBadRequest,
		"документ содержит более одной подписи",
		"құжатта бірден артық қолтаңба бар",
		"the document carries more than one signature"),
	CodeSignatureMisplaced: refusal(http.StatusBadRequest,
		"подпись должна быть непосредственным дочерним элементом корневого элемента",
		"қолтаңба түбірлік элементтің тікелей еншілес элементі болуы тиіс",
		"the signature must be a direct child of the root element"),
	CodeReferenceInvalid: refusal(http.StatusBadRequest,
		"подпись должна содержать ровно одну ссылку — на весь документ",
		"қолтаңбада бүкіл құжатқа нұсқайтын бір ғана сілтеме болуы тиіс",
		"the signature must reference the whole document with exactly one reference"),
	CodeAlgorithmForbidden: refusal(http.StatusBadRequest,
		"алгоритм подписи, хеширования или преобразования не разрешён",
		"қолтаңба, хэштеу немесе түрлендіру алгоритмі рұқсат етілмеген",
		"a signature, digest or transform algorithm is not allowed"),
	CodeAlgorithmGOST: refusal(http.StatusBadRequest,
		"подписи ГОСТ не поддерживаются, используйте ключ RSA",
		"ГОСТ қолтаңбаларына қолдау көрсетілмейді, RSA кілтін пайдаланыңыз",
		"GOST signatures are not supported, use an RSA key"),
	CodeKeyTooWeak: refusal(http.StatusBadRequest,
		"ключ подписи короче 2048 бит",
		"қолтаңба кілті 2048 биттен қысқа",
		"the signing key is shorter than 2048 bits"),
	CodeCertificateMalformed: refusal(http.StatusBadRequest,
		"сертификат подписанта отсутствует или повреждён",
		"қол қоюшының сертификаты жоқ немесе бүлінген",
		"the signer's certificate is missing or damaged"),
	CodeCertificateUntrusted: refusal(http.StatusBadRequest,
		"сертификат выдан недоверенным удостоверяющим центром",
		"сертификатты сенім білдірілмеген куәландырушы орталық берген",
		"the certificate was not issued by a trusted certification authority"),
	CodeCertificateExpired: refusal(http.StatusBadRequest,
		"срок действия сертификата истёк",
		"сертификаттың қолданылу мерзімі өткен",
		"the certificate has expired"),
	CodeCertificateNotYetValid: refusal(http.StatusBadRequest,
		"срок действия сертификата ещё не начался",
		"сертификаттың қолданылу мерзімі әлі басталмаған",
		"the certificate is not valid yet"),
	CodeCertificateRevoked: refusal(http.StatusBadRequest,
		"сертификат отозван",
		"сертификат кері қайтарып алынды",
		"the certificate has been revoked"),
	CodeRevocationUnknown: refusal(http.StatusServiceUnavailable,
		"не удалось проверить статус отзыва сертификата",
		"сертификаттың кері қайтарып алыну мәртебесін тексеру мүмкін болмады",
		"the revocation status of the certificate could not be established"),
	CodeKeyUsageInvalid: refusal(http.StatusBadRequest,
		"ключ не предназначен для подписи документов",
		"кілт құжаттарға қол қоюға арналмаған",
		"the key is not meant for signing documents"),
	CodeSignatureInvalid: refusal(http.StatusBadRequest,
		"подпись не соответствует содержимому документа",
		"қолтаңба құжаттың мазмұнына сәйкес келмейді",
		"the signature does not match the document's content"),
	CodeIINMismatch: refusal(http.StatusForbidden,
		"ИИН в запросе не совпадает с ИИН в сертификате",
		"сұраудағы ЖСН сертификаттағы ЖСН-мен сәйкес келмейді",
		"the IIN of the request differs from the IIN in the certificate"),
	CodeBINMismatch: refusal(http.StatusForbidden,
		"БИН в запросе не совпадает с БИН в сертификате",
		"сұраудағы БСН сертификаттағы БСН-мен сәйкес келмейді",
		"the BIN of the request differs from the BIN in the certificate"),
	CodeIINInvalid: {status: http.StatusBadRequest, msg: Message{
		RU: "ИИН указан неверно",
		KK: "ЖСН қате көрсетілген",
		EN: "the IIN is not valid",
	}},
	CodeBINInvalid: {status: http.StatusBadRequest, msg: Message{
		RU: "БИН указан неверно",
		KK: "БСН қате көрсетілген",
		EN: "the BIN is not valid",
	}},
	CodeXMLTooManyAttributes: refusal(http.StatusBadRequest,
		"документ содержит слишком много атрибутов",
		"құжатта атрибуттар тым көп",
		"the document has too many attributes"),
	CodeSignatureShape: refusal(http.StatusBadRequest,
		"элемент подписи должен содержать только SignedInfo, SignatureValue и KeyInfo с одним сертификатом",
		"қолтаңба элементі тек SignedInfo, SignatureValue және бір сертификаты бар KeyInfo элементтерінен тұруы тиіс",
		"the signature element may hold only SignedInfo, SignatureValue and KeyInfo with one certificate"),
	CodeSignerNotAuthorised: refusal(http.StatusForbidden,
		"владелец сертификата не имеет права подписи от имени организации",
		"сертификат иесінің ұйым атынан қол қою құқығы жоқ",
		"the certificate's holder has no right to sign on behalf of the organisation"),
	CodeAuthorizationRefused: plain(http.StatusUnauthorized,
		"Отказ в авторизации: неверный ИИН или пароль, либо сессия недействительна",
		"Авторизациядан бас тартылды: ЖСН немесе құпиясөз қате, не сессия жарамсыз",
		"Authorisation refused: wrong IIN or password, or the session is not valid"),
	CodeRateLimited: plain(http.StatusTooManyRequests,
		"Слишком много попыток, повторите позже",
		"Әрекеттер саны тым көп, кейінірек қайталап көріңіз",
		"Too many attempts, try again later"),
	CodeAccountExists: plain(http.StatusConflict,
		"Учётная запись с этим ИИН уже существует",
		"Осы ЖСН бойынша есептік жазба бұрыннан тіркелген",
		"An account with this IIN already exists"),
	CodePasswordWeak: plain(http.StatusBadRequest,
		"Пароль должен содержать не менее 10 символов, в том числе буквы и цифры",
		"Құпиясөз кемінде 10 таңбадан тұруы және құрамында әріптер мен цифрлар болуы тиіс",
		"The password must have at least 10 characters, letters and digits"),
	CodePhoneInvalid: plain(http.StatusBadRequest,
		"Номер телефона указан неверно (+7XXXXXXXXXX)",
		"Телефон нөмірі қате көрсетілген (+7XXXXXXXXXX)",
		"The phone number is not valid (+7XXXXXXXXXX)"),
	CodeNotFound: plain(http.StatusNotFound,
		"Не найдено",
		"Табылмады",
		"Not found"),
	CodeBodyTooLarge: plain(http.StatusRequestEntityTooLarge,
		"Запрос превышает допустимый размер",
		"Сұрау рұқсат етілген көлемнен асады",
		"The request exceeds the size limit"),
	CodeMediaUnsupported: plain(http.StatusUnsupportedMediaType,
		"Формат запроса не поддерживается",
		"Сұрау пішіміне қолдау көрсетілмейді",
		"Unsupported request format"),
	CodeServiceUnknown: plain(http.StatusNotFound,
		"Государственная услуга не найдена",
		"Мемлекеттік көрсетілетін қызмет табылмады",
		"No such state service"),
	CodeServiceNotOnPortal: plain(http.StatusUnprocessableEntity,
		"Услуга не оказывается через портал, обратитесь к услугодателю или в Государственную корпорацию",
		"Қызмет портал арқылы көрсетілмейді, көрсетілетін қызметті берушіге немесе Мемлекеттік корпорацияға жүгініңіз",
		"This service is not provided through the portal; apply to the provider or the State Corporation"),
	CodeRegionNotServed: plain(http.StatusUnprocessableEntity,
		"Услуга не оказывается через портал в выбранном регионе",
		"Қызмет таңдалған өңірде портал арқылы көрсетілмейді",
		"This service is not provided through the portal in the chosen region"),
	CodeCalendarExhausted: plain(http.StatusServiceUnavailable,
		"Срок оказания услуги выходит за пределы утверждённого производственного календаря; запрос не принят, повторите позже",
		"Қызмет көрсету мерзімі бекітілген өндірістік күнтізбенің шегінен шығады; сұрау қабылданбады, кейінірек қайталап көріңіз",
		"The service's term ends beyond the approved working calendar; the request was not accepted, try again later"),
	CodeFormInvalid: plain(http.StatusUnprocessableEntity,
		"Форма запроса заполнена с нарушением структуры или формата",
		"Сұрау нысанын толтыру кезінде оның құрылымы немесе пішімі бұзылған",
		"The request form does not follow its structure or format"),
	CodeAttachmentMissing: plain(http.StatusUnprocessableEntity,
		"Не приложен документ, указанный в запросе или обязательный для услуги",
		"Сұрауда көрсетілген немесе қызмет үшін міндетті құжат тіркелмеген",
		"A document declared in the request or required by the service is not attached"),
	CodeAttachmentMismatch: plain(http.StatusUnprocessableEntity,
		"Приложенный документ не совпадает с подписанным описанием (хеш или размер)",
		"Тіркелген құжат қол қойылған сипаттамаға сәйкес келмейді (хэш немесе көлем)",
		"An attached document does not match its signed description (hash or size)"),
	CodeAttachmentUndeclared: plain(http.StatusUnprocessableEntity,
		"Приложен документ, не указанный в подписанном запросе",
		"Қол қойылған сұрауда көрсетілмеген құжат тіркелген",
		"A document is attached that the signed request does not declare"),
	CodeAttachmentRejected: plain(http.StatusUnprocessableEntity,
		"Документ недопустимого типа, размера или с истёкшим сроком действия",
		"Құжаттың түрі немесе көлемі рұқсат етілмеген не оның қолданылу мерзімі өткен",
		"A document has a type or size not allowed, or has expired"),
	CodeRequestStale: plain(http.StatusUnprocessableEntity,
		"Время формирования запроса выходит за допустимые пределы, сформируйте и подпишите запрос заново",
		"Сұраудың жасалу уақыты рұқсат етілген аралықтан тыс, сұрауды қайта жасап, оған қол қойыңыз",
		"The request's issue time is outside the accepted window; create and sign it again"),
	CodeRequestReplayed: plain(http.StatusConflict,
		"Запрос с этим идентификатором уже был принят",
		"Осы сәйкестендіргіші бар сұрау бұрын қабылданған",
		"A request with this id has already been accepted"),
	CodeUnavailable: plain(http.StatusServiceUnavailable,
		"Сервис временно недоступен, повторите позже",
		"Сервис уақытша қолжетімсіз, кейінірек қайталап көріңіз",
		"The service is temporarily unavailable, try again later"),
	CodeIdentityNotProven: plain(http.StatusForbidden,
		"Личность не подтверждена: подпишите запрос ЭЦП на этот ИИН или введите код из SMS",
		"Жеке басыңыз расталмады: сұрауға осы ЖСН-ге берілген ЭЦҚ-мен қол қойыңыз немесе SMS-тегі кодты енгізіңіз",
		"Identity not proven: sign with a digital signature issued to this IIN or enter the code sent by SMS"),
	CodeOneTimeCodeInvalid: plain(http.StatusForbidden,
		"Код подтверждения неверен, истёк или уже использован",
		"Растау коды қате, мерзімі өткен немесе бұрын пайдаланылған",
		"The confirmation code is wrong, expired or already used"),
	CodePhoneNotRegistered: plain(http.StatusUnprocessableEntity,
		"Номер телефона не зарегистрирован в базе мобильных граждан, зарегистрируйтесь с помощью ЭЦП",
		"Телефон нөмірі мобильді азаматтар базасында тіркелмеген, ЭЦҚ арқылы тіркеліңіз",
		"No phone number is registered for this IIN in the mobile citizens' database; register with a digital signature"),
	CodeAttachmentTypeFalse: plain(http.StatusUnprocessableEntity,
		"Содержимое приложенного документа не соответствует его заявленному типу",
		"Тіркелген құжаттың мазмұны оның мәлімделген түріне сәйкес келмейді",
		"The content of an attached document does not match its declared type"),
	CodeRequestMalformed: plain(http.StatusBadRequest,
		"Запрос не может быть прочитан: нарушен синтаксис",
		"Сұрауды оқу мүмкін емес: синтаксисі бұзылған",
		"The request cannot be read: its syntax is broken"),
	CodeMethodNotAllowed: plain(http.StatusMethodNotAllowed,
		"Метод не поддерживается для этого ресурса",
		"Бұл ресурс үшін осы әдіске қолдау көрсетілмейді",
		"This method is not supported for this resource"),
	CodeFormExpired: plain(http.StatusForbidden,
		"Форма устарела или отправлена не с этого сайта: откройте страницу заново и повторите",
		"Нысанның мерзімі өтті немесе ол осы сайттан жіберілмеді: бетті қайта ашып, қайталаңыз",
		"The form has expired or was not sent from this site: open the page again and retry"),
	CodeRequestTimeout: plain(http.StatusRequestTimeout,
		"Запрос передавался слишком медленно и был прерван",
		"Сұрау тым баяу жіберілгендіктен, оны қабылдау үзілді",
		"The request was sent too slowly and was cut off"),
	CodeDataUnobtainable: plain(http.StatusUnprocessableEntity,
		"Данные не могут быть получены: их нет в государственной базе данных или в ЕНИС; запрос не отправлен",
		"Мәліметтерді алу мүмкін емес: олар мемлекеттік деректер қорында немесе ЕНИС-те жоқ; сұрау жіберілмеді",
		"The data cannot be obtained: a state register or ЕНИС has none; the request was not sent"),
	CodeHandOutRefused: plain(http.StatusConflict,
		"Результат не может быть выдан: он ещё не поступил, уже выдан или получатель не является услугополучателем или его представителем",
		"Нәтижені беру мүмкін емес: ол әлі келіп түспеген, бұрын берілген немесе алушы көрсетілетін қызметті алушы немесе оның өкілі емес",
		"The result cannot be handed out: it has not come yet, was handed out already, or the recipient is neither the applicant nor the representative"),
	CodeAnswerUnmatched: plain(http.StatusConflict,
		"Ответ услугодателя не соответствует запросу, к которому относится",
		"Көрсетілетін қызметті берушінің жауабы ол берілген сұрауға сәйкес келмейді",
		"The provider's answer does not match the request it belongs to"),
	CodeInternal: {status: http.StatusInternalServerError, msg: Message{
		RU: "Внутренняя ошибка, повторите попытку позже",
		KK: "Ішкі қате, кейінірек қайталап көріңіз",
		EN: "Internal error, please try again later",
	}},
}

// Codes lists every known code, for documentation and tests.
func Codes() []Code {
	out := make([]Code, 0, len(codes))
	for c := range codes {
		out = append(out, c)
	}
	return out
}

// Known reports whether c is in the code table.
func (c Code) Known() bool {
	_, ok := codes[c]
	return ok
}

// Message returns the code's text in the three languages. An unknown code
// reads as an internal error rather than leaking its name to a citizen.
func (c Code) Message() Message {
	if info, ok := codes[c]; ok {
		return info.msg
	}
	return codes[CodeInternal].msg
}

// HTTPStatus is the status an HTTP API answers this code with.
func (c Code) HTTPStatus() int {
	if info, ok := codes[c]; ok {
		return info.status
	}
	return http.StatusInternalServerError
}

// Error is a refusal with a stable code. Detail is for logs and operators
// (never personal data); the citizen sees Code.Message().
type Error struct {
	Code   Code
	Detail string
	Err    error
	// RetryAfter, when set, is how long the caller should wait before
	// trying again (a rate limit, an overload): HTTP answers carry it as
	// Retry-After.
	RetryAfter time.Duration
}

// RetryAfter returns how long err asks the caller to wait, 0 for none.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}

// Errorf returns an *Error with a formatted detail; a %w verb is unwrapped.
func Errorf(code Code, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Code: code, Detail: err.Error(), Err: errors.Unwrap(err)}
}

func (e *Error) Error() string {
	if e.Detail == "" {
		return string(e.Code)
	}
	return string(e.Code) + ": " + e.Detail
}

func (e *Error) Unwrap() error { return e.Err }

// Permanent tells a refusal that no retry can change (a refusal code of
// ours) from a passing failure (storage, a register, the bus or a
// revocation source not answering, a record not written yet): what fails
// for good is rejected to the dead letters, what passes is tried again.
func Permanent(err error) bool {
	switch ErrorCode(err) {
	case CodeInternal, CodeUnavailable, CodeRevocationUnknown:
		return false
	}
	return true
}

// ErrorCode returns the code carried by err, CodeInternal for any other
// error and "" for nil.
func ErrorCode(err error) Code {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

package web

import "egov"

// Text is the text of key in lang: the site's own, else the machinery's;
// a key without a text shows itself (the sites' tests keep that from
// happening: TestEveryPageTextIsTrilingual).
func (s *Site) Text(key, lang string) string { return s.TextOr(key, lang, key) }

// TextOr is Text with fallback for a key no table has (a data field of a
// newer provider, say).
func (s *Site) TextOr(key, lang, fallback string) string {
	if m, ok := s.opt.Texts[key]; ok {
		return m.In(lang)
	}
	if m, ok := texts[key]; ok {
		return m.In(lang)
	}
	return fallback
}

// HasText tells whether key has a text in all three languages.
func (s *Site) HasText(key string) bool {
	m, ok := s.opt.Texts[key]
	if !ok {
		m, ok = texts[key]
	}
	return ok && m.RU != "" && m.KK != "" && m.EN != ""
}

// texts are the words of the layout, the script and the form checks, the
// same on every site.
var texts = map[string]egov.Message{
	"site.test":          {RU: "Учебный стенд: данные вымышлены", KK: "Оқу стенді: деректер ойдан алынған", EN: "Test stand: the data are fictitious"},
	"skip.main":          {RU: "Перейти к содержанию", KK: "Мазмұнға өту", EN: "Skip to content"},
	"nav.main":           {RU: "Основное меню", KK: "Негізгі мәзір", EN: "Main menu"},
	"nav.language":       {RU: "Язык", KK: "Тіл", EN: "Language"},
	"nav.logout":         {RU: "Выйти", KK: "Шығу", EN: "Log out"},
	"form.required":      {RU: "Заполните это поле", KK: "Бұл өрісті толтырыңыз", EN: "Fill in this field"},
	"form.tooLong":       {RU: "Не более %d символов", KK: "%d таңбадан аспауы тиіс", EN: "At most %d characters"},
	"form.phone":         {RU: "Номер в формате +7XXXXXXXXXX", KK: "Нөмір +7XXXXXXXXXX пішімінде болуы тиіс", EN: "A number as +7XXXXXXXXXX"},
	"form.choose":        {RU: "Выберите значение из списка", KK: "Тізімнен мәнді таңдаңыз", EN: "Choose a value from the list"},
	"form.fileRequired":  {RU: "Приложите файл", KK: "Файлды тіркеңіз", EN: "Attach a file"},
	"form.fileType":      {RU: "Допускаются PDF, JPEG и PNG", KK: "PDF, JPEG және PNG рұқсат етіледі", EN: "PDF, JPEG and PNG are accepted"},
	"form.fileSize":      {RU: "Файл пуст или больше %d МБ", KK: "Файл бос немесе %d МБ-тан үлкен", EN: "The file is empty or larger than %d MB"},
	"form.fileHash":      {RU: "Не удалось вычислить хэш файла; выберите его снова", KK: "Файлдың хэшін есептеу мүмкін болмады; оны қайта таңдаңыз", EN: "The file's hash could not be computed; choose it again"},
	"form.date":          {RU: "Дата в формате ГГГГ-ММ-ДД", KK: "Күні ЖЖЖЖ-АА-КК пішімінде", EN: "A date as YYYY-MM-DD"},
	"form.fileNameTwice": {RU: "Файлы разных документов должны называться по-разному", KK: "Әр құжаттың файлының аты әртүрлі болуы тиіс", EN: "The files of different documents need different names"},
	"form.expired":       {RU: "Срок действия документа истёк", KK: "Құжаттың жарамдылық мерзімі өтті", EN: "The document has expired"},
	"js.signer":          {RU: "Не удалось связаться с NCALayer: запустите его и обновите страницу", KK: "NCALayer-мен байланыс орнатылмады: оны іске қосып, бетті жаңартыңыз", EN: "NCALayer could not be reached: start it and reload the page"},
	"js.hashing":         {RU: "Вычисляются хэши файлов…", KK: "Файлдардың хэштері есептелуде…", EN: "Computing the files' hashes…"},
	"js.signing":         {RU: "Подтвердите подпись в NCALayer…", KK: "NCALayer-де қол қоюды растаңыз…", EN: "Confirm the signature in NCALayer…"},
	"js.sending":         {RU: "Отправка…", KK: "Жіберілуде…", EN: "Sending…"},
	"js.canceled":        {RU: "Подписание отменено", KK: "Қол қою тоқтатылды", EN: "Signing was cancelled"},
	"js.checkForm":       {RU: "Проверьте отмеченные поля", KK: "Белгіленген өрістерді тексеріңіз", EN: "Check the fields marked"},
	"js.connection":      {RU: "Нет связи с порталом; повторите", KK: "Порталмен байланыс жоқ; қайталаңыз", EN: "The portal could not be reached; try again"},
	"error.title":        {RU: "Запрос не выполнен", KK: "Сұрау орындалмады", EN: "The request was not carried out"},
	"error.code":         {RU: "Код", KK: "Коды", EN: "Code"},
	"error.home":         {RU: "На главную", KK: "Басты бетке", EN: "Home"},
}

package counter

import "egov"

// operatorTexts are the words of the operators' pages (package web has
// the layout's and the script's; the catalogue and the code table the
// rest).
var operatorTexts = map[string]egov.Message{
	"brand.gk-counter": {RU: "АРМ ИИС ГК — Государственная корпорация «Правительство для граждан»", KK: "ГК ИАЖ АЖО — «Азаматтарға арналған үкімет» мемлекеттік корпорациясы", EN: "The State Corporation's workstation"},
	"brand.czn-desk":   {RU: "Рабочее место центра занятости населения", KK: "Халықты жұмыспен қамту орталығының жұмыс орны", EN: "The employment centre's desk"},
	"nav.who":          {RU: "Оператор", KK: "Оператор", EN: "Operator"},
	"op.nav.login":     {RU: "Вход", KK: "Кіру", EN: "Log in"},
	"op.nav.services":  {RU: "Приём документов", KK: "Құжаттарды қабылдау", EN: "Intake"},
	"op.nav.ready":     {RU: "Готовые к выдаче", KK: "Беруге дайын", EN: "Ready for hand-out"},
	"op.required":      {RU: "обязательно", KK: "міндетті", EN: "required"},
	"op.flow":          {RU: "Процесс", KK: "Үдеріс", EN: "Flow"},

	"op.login.title":    {RU: "Вход оператора", KK: "Оператордың кіруі", EN: "Operator login"},
	"op.login.login":    {RU: "Логин", KK: "Логин", EN: "Login"},
	"op.login.password": {RU: "Пароль", KK: "Құпиясөз", EN: "Password"},
	"op.login.submit":   {RU: "Войти", KK: "Кіру", EN: "Log in"},

	"op.home.title":    {RU: "Приём документов", KK: "Құжаттарды қабылдау", EN: "Intake"},
	"op.home.services": {RU: "Услуги, которые принимает ваше отделение", KK: "Бөлімшеңіз қабылдайтын қызметтер", EN: "The services your office takes"},
	"op.home.none":     {RU: "В вашем регионе услуги через это рабочее место не оказываются", KK: "Сіздің өңіріңізде бұл жұмыс орны арқылы қызметтер көрсетілмейді", EN: "No service is filed through this desk in your region"},

	"op.region.almaty-oblast":   {RU: "Алматинская область", KK: "Алматы облысы", EN: "Almaty Region"},
	"op.region.east-kazakhstan": {RU: "Восточно-Казахстанская область", KK: "Шығыс Қазақстан облысы", EN: "East Kazakhstan Region"},
	"op.region.aktobe":          {RU: "Актюбинская область", KK: "Ақтөбе облысы", EN: "Aktobe Region"},
	"op.region.karaganda":       {RU: "Карагандинская область", KK: "Қарағанды облысы", EN: "Karaganda Region"},
	"op.region.almaty-city":     {RU: "город Алматы", KK: "Алматы қаласы", EN: "Almaty city"},

	"op.intake.title":              {RU: "Приём заявления", KK: "Өтінішті қабылдау", EN: "Taking an application"},
	"op.intake.applicant":          {RU: "Услугополучатель", KK: "Көрсетілетін қызметті алушы", EN: "Applicant"},
	"op.intake.iin":                {RU: "ИИН услугополучателя", KK: "Қызмет алушының ЖСН", EN: "Applicant's IIN"},
	"op.intake.iinHint":            {RU: "Фамилия и имя будут получены из ГБД ФЛ", KK: "Тегі мен аты ЖТ МДҚ-дан алынады", EN: "The names come from the persons register"},
	"op.intake.phone":              {RU: "Телефон для SMS (необязательно)", KK: "SMS үшін телефон (міндетті емес)", EN: "Phone for the SMS (optional)"},
	"op.intake.representative":     {RU: "Представитель", KK: "Өкіл", EN: "Representative"},
	"op.intake.representativeHint": {RU: "Заполните, если обратился представитель по нотариальной доверенности", KK: "Нотариат куәландырған сенімхат бойынша өкіл жүгінсе, толтырыңыз", EN: "Fill in when a representative came with a notarised power of attorney"},
	"op.intake.form":               {RU: "Сведения заявления", KK: "Өтініш мәліметтері", EN: "The application"},
	"op.intake.documents":          {RU: "Сканы документов", KK: "Құжаттардың сканерленген көшірмелері", EN: "Scanned documents"},
	"op.intake.expires":            {RU: "действителен до", KK: "қай күнге дейін жарамды", EN: "valid until"},
	"op.intake.noDocuments":        {RU: "Документы не нужны: сведения получаются из информационных систем", KK: "Құжаттар қажет емес: мәліметтер ақпараттық жүйелерден алынады", EN: "No documents needed: the data come from the information systems"},
	"op.intake.check":              {RU: "Проверить по базам и подготовить заявление", KK: "Базалар бойынша тексеріп, өтінішті дайындау", EN: "Check with the registers and prepare the application"},
	"op.intake.register":           {RU: "Нет сведений в базе", KK: "Базада мәліметтер жоқ", EN: "No data in the register"},

	"op.rep.iin":             {RU: "ИИН представителя", KK: "Өкілдің ЖСН", EN: "Representative's IIN"},
	"op.rep.surname":         {RU: "Фамилия", KK: "Тегі", EN: "Surname"},
	"op.rep.givenName":       {RU: "Имя", KK: "Аты", EN: "Given name"},
	"op.rep.patronymic":      {RU: "Отчество", KK: "Әкесінің аты", EN: "Patronymic"},
	"op.rep.powerOfAttorney": {RU: "Номер доверенности", KK: "Сенімхат нөмірі", EN: "Power of attorney number"},
	"op.rep.notary":          {RU: "Нотариус (для G-B)", KK: "Нотариус (G-B үшін)", EN: "Notary (for G-B)"},
	"op.rep.until":           {RU: "Доверенность действует до (для G-B)", KK: "Сенімхат қай күнге дейін жарамды (G-B үшін)", EN: "Power valid until (for G-B)"},

	"op.receipt.refusal":    {RU: "Расписка об отказе в приёме документов", KK: "Құжаттарды қабылдаудан бас тарту туралы қолхат", EN: "Receipt of the refusal to accept the documents"},
	"op.receipt.acceptance": {RU: "Расписка о приёме документов", KK: "Құжаттарды қабылдағаны туралы қолхат", EN: "Receipt of the documents"},
	"op.receipt.applicant":  {RU: "Услугополучатель", KK: "Көрсетілетін қызметті алушы", EN: "Applicant"},
	"op.receipt.missing":    {RU: "Недостающие или просроченные документы", KK: "Жетіспейтін немесе мерзімі өткен құжаттар", EN: "Documents missing or expired"},
	"op.receipt.office":     {RU: "Отделение и оператор", KK: "Бөлімше және оператор", EN: "Office and operator"},
	"op.receipt.at":         {RU: "Дата и время", KK: "Күні мен уақыты", EN: "Date and time"},
	"op.receipt.documents":  {RU: "Принятые документы", KK: "Қабылданған құжаттар", EN: "Documents taken"},
	"op.receipt.due":        {RU: "Срок выдачи результата", KK: "Нәтижені беру мерзімі", EN: "Result due by"},
	"op.receipt.request":    {RU: "Номер заявления", KK: "Өтініш нөмірі", EN: "Application number"},

	"op.draft.title":     {RU: "Заявление к подписи", KK: "Қол қоюға арналған өтініш", EN: "The application to sign"},
	"op.draft.service":   {RU: "Услуга", KK: "Қызмет", EN: "Service"},
	"op.draft.applicant": {RU: "Услугополучатель по ГБД ФЛ", KK: "ЖТ МДҚ бойынша қызмет алушы", EN: "Applicant as the persons register names him"},
	"op.draft.expires":   {RU: "Подписать до", KK: "Қол қою мерзімі", EN: "Sign before"},
	"op.draft.checked":   {RU: "Сведения проверены по базам. Сверьте заявление и подпишите его своей ЭЦП.", KK: "Мәліметтер базалар бойынша тексерілді. Өтінішті салыстырып, өз ЭЦҚ-ңызбен қол қойыңыз.", EN: "The registers were asked. Check the application and sign it with your own key."},
	"op.draft.document":  {RU: "Заявление (XML), которое вы подписываете", KK: "Сіз қол қоятын өтініш (XML)", EN: "The application (XML) you sign"},
	"op.draft.noscript":  {RU: "Для подписи через NCALayer нужен JavaScript", KK: "NCALayer арқылы қол қою үшін JavaScript қажет", EN: "Signing through NCALayer needs JavaScript"},
	"op.draft.sign":      {RU: "Подписать ЭЦП и отправить", KK: "ЭЦҚ-мен қол қойып, жіберу", EN: "Sign and send"},

	"op.ready.title": {RU: "Результаты, готовые к выдаче", KK: "Беруге дайын нәтижелер", EN: "Results ready for hand-out"},
	"op.ready.none":  {RU: "Готовых результатов нет", KK: "Дайын нәтижелер жоқ", EN: "No result is waiting"},

	"op.filing.title":      {RU: "Заявление", KK: "Өтініш", EN: "Application"},
	"op.filing.state":      {RU: "Состояние", KK: "Күйі", EN: "State"},
	"op.filing.outcome":    {RU: "Результат", KK: "Нәтиже", EN: "Result"},
	"op.filing.number":     {RU: "Номер и дата", KK: "Нөмірі мен күні", EN: "Number and date"},
	"op.filing.ground":     {RU: "Основание отказа", KK: "Бас тарту негізі", EN: "Ground of refusal"},
	"op.filing.signer":     {RU: "Подписал", KK: "Қол қойған", EN: "Signed by"},
	"op.filing.download":   {RU: "Скачать подписанный результат (XML)", KK: "Қол қойылған нәтижені жүктеу (XML)", EN: "Download the signed result (XML)"},
	"op.filing.handedOut":  {RU: "Выдано", KK: "Берілді", EN: "Handed out"},
	"op.filing.handOutIIN": {RU: "ИИН получающего (по удостоверению личности)", KK: "Алушының ЖСН (жеке куәлік бойынша)", EN: "IIN of who receives it (from the identity document)"},
	"op.filing.handOut":    {RU: "Выдать результат", KK: "Нәтижені беру", EN: "Hand the result out"},
	"op.filing.history":    {RU: "История", KK: "Тарихы", EN: "History"},

	"op.to.applicant":      {RU: "услугополучателю", KK: "қызмет алушыға", EN: "to the applicant"},
	"op.to.representative": {RU: "представителю", KK: "өкілге", EN: "to the representative"},

	"op.state.accepted":    {RU: "Принято, передаётся в ШЭП", KK: "Қабылданды, ЭҮШ-ке жіберілуде", EN: "Accepted, being sent on the bus"},
	"op.state.sent":        {RU: "Отправлено услугодателю", KK: "Көрсетілетін қызметті берушіге жіберілді", EN: "Sent to the provider"},
	"op.state.in-progress": {RU: "В работе у услугодателя", KK: "Көрсетілетін қызметті берушінің қарауында", EN: "Being processed by the provider"},
	"op.state.ready":       {RU: "Результат готов к выдаче", KK: "Нәтиже беруге дайын", EN: "The result is ready for hand-out"},
	"op.state.handed-out":  {RU: "Результат выдан", KK: "Нәтиже берілді", EN: "The result was handed out"},

	"op.outcome.registered":   {RU: "зарегистрирован", KK: "тіркелді", EN: "registered"},
	"op.outcome.referred":     {RU: "направлен", KK: "жолдама берілді", EN: "referred"},
	"op.outcome.certificate":  {RU: "справка выдана", KK: "анықтама берілді", EN: "certificate issued"},
	"op.outcome.refused":      {RU: "мотивированный отказ", KK: "дәлелді бас тарту", EN: "reasoned refusal"},
	"op.outcome.deregistered": {RU: "снят с учёта", KK: "есептен шығарылды", EN: "deregistered"},
	"op.outcome.postponed":    {RU: "отложено", KK: "кейінге қалдырылды", EN: "postponed"},
}

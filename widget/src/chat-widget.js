/*!
 * Chat met de gemeente: an accessible chat widget for the municipal intake assistant.
 *
 * Embedding is one script tag (it loads its own stylesheet and the socket.io client):
 *   <script src="https://…/chat-widget.js" data-rasa-url="https://bot.example.nl" defer></script>
 *
 * It talks to Rasa's socket.io channel (events user_uttered / bot_uttered, session_request /
 * session_confirm, session_persistence: true). The session id and the transcript live in
 * localStorage for at most `data-session-minutes` (default 120, Rasa's session expiry), so the
 * conversation survives a reload, and not at all after the citizen had it erased ("verwijder mijn
 * gegevens"). Plain ES2017, no build step. Documentation: docs/widget.md.
 */
(function () {
  'use strict';

  if (window.GemeenteChat) {
    return; // the tag was included twice
  }

  var script = document.currentScript || document.querySelector('script[data-rasa-url]');
  var scriptSrc = (script && script.src) || window.location.href;
  var BASE = new URL('.', scriptSrc).href;

  function attr(name, fallback) {
    var value = script && script.getAttribute(name);
    return value ? value : fallback;
  }

  var CONFIG = {
    rasaUrl: attr('data-rasa-url', window.location.origin),
    socketPath: attr('data-socket-path', '/socket.io'),
    sessionMinutes: Number(attr('data-session-minutes', '120')) || 120,
    stylesheet: attr('data-stylesheet', BASE + 'chat-widget.css'),
    socketIoSrc: attr('data-socket-io-src', BASE + 'vendor/socket.io.min.js'),
  };

  // Every text the citizen sees, per language: Dutch (B1, "u") is the source, the other five say the
  // same (bot/i18n/README.md: how a municipality reviews them). Strict JSON between the markers:
  // tests/widget/test_texts.py reads it and fails on a key missing or extra in any language.
  // {naam}: the casemanager's name; {aantal}: a number.
  var TEXTS = /* teksten:begin */ {
    "nl": {
      "launcher": "Chat met de gemeente",
      "title": "Chat met de gemeente",
      "subtitleBot": [
        "U praat met de digitale hulp."
      ],
      "subtitleQueue": [
        "U wacht op een medewerker.",
        "Houd dit venster open."
      ],
      "subtitleStaff": [
        "U praat met {naam}.",
        "{naam} werkt bij de gemeente."
      ],
      "subtitleStaffUnknown": [
        "U praat met een medewerker van de gemeente."
      ],
      "close": "Sluiten",
      "closeLong": "Chat sluiten",
      "log": "Gesprek",
      "you": "U",
      "bot": "Digitale hulp",
      "staff": "{naam}, medewerker",
      "staffUnknown": "Medewerker",
      "notice": "Melding: ",
      "choose": "Kies een antwoord:",
      "inputLabel": "Uw bericht",
      "inputHint": "Druk op Enter om te versturen. Met Shift en Enter begint u een nieuwe regel.",
      "send": "Versturen",
      "human": "Praat met een medewerker",
      "humanMessage": "Ik wil met een medewerker praten.",
      "alreadyQueued": "U staat al in de wachtrij. Houd dit venster open. De medewerker komt zo bij u.",
      "alreadyStaff": "U praat al met {naam}. Typ uw bericht hieronder.",
      "alreadyStaffUnknown": "U praat al met een medewerker. Typ uw bericht hieronder.",
      "restart": "Nieuw gesprek",
      "restartConfirm": "Wilt u opnieuw beginnen? Dan verdwijnt dit gesprek uit dit venster.",
      "newWindow": " (opent in een nieuw tabblad)",
      "typing": "De digitale hulp schrijft een antwoord",
      "connecting": "Verbinding maken…",
      "offline": "Er is nu geen verbinding met de chat. We proberen het opnieuw. Uw berichten versturen we zodra het weer lukt.",
      "unavailable": "De chat werkt nu niet. Probeer het later opnieuw, of bel de gemeente.",
      "unreadOne": "1 nieuw bericht",
      "unreadMany": "{aantal} nieuwe berichten",
      "unreadAnnounce": "Er is een nieuw bericht in de chat met de gemeente."
    },
    "en": {
      "launcher": "Chat with the gemeente",
      "title": "Chat with the gemeente",
      "subtitleBot": [
        "You are talking to the digital helper."
      ],
      "subtitleQueue": [
        "You are waiting for a staff member.",
        "Please keep this window open."
      ],
      "subtitleStaff": [
        "You are talking to {naam}.",
        "{naam} works for the gemeente."
      ],
      "subtitleStaffUnknown": [
        "You are talking to a staff member of the gemeente."
      ],
      "close": "Close",
      "closeLong": "Close chat",
      "log": "Conversation",
      "you": "You",
      "bot": "Digital helper",
      "staff": "{naam}, staff member",
      "staffUnknown": "Staff member",
      "notice": "Notice: ",
      "choose": "Choose an answer:",
      "inputLabel": "Your message",
      "inputHint": "Press Enter to send. Press Shift and Enter to start a new line.",
      "send": "Send",
      "human": "Talk to a staff member",
      "humanMessage": "I want to talk to a staff member.",
      "alreadyQueued": "You are already in the queue. Please keep this window open. A staff member will be with you soon.",
      "alreadyStaff": "You are already talking to {naam}. Type your message below.",
      "alreadyStaffUnknown": "You are already talking to a staff member. Type your message below.",
      "restart": "New conversation",
      "restartConfirm": "Do you want to start again? Then this conversation disappears from this window.",
      "newWindow": " (opens in a new tab)",
      "typing": "The digital helper is writing an answer",
      "connecting": "Connecting…",
      "offline": "The chat has no connection right now. We are trying again. We will send your messages as soon as it works.",
      "unavailable": "The chat is not working right now. Please try again later, or call the gemeente.",
      "unreadOne": "1 new message",
      "unreadMany": "{aantal} new messages",
      "unreadAnnounce": "There is a new message in the chat with the gemeente."
    },
    "pl": {
      "launcher": "Czat z gminą",
      "title": "Czat z gminą",
      "subtitleBot": [
        "Rozmawia Pan/Pani z cyfrowym asystentem."
      ],
      "subtitleQueue": [
        "Czeka Pan/Pani na pracownika.",
        "Proszę nie zamykać tego okna."
      ],
      "subtitleStaff": [
        "Rozmawia Pan/Pani z: {naam}.",
        "{naam} pracuje w gminie."
      ],
      "subtitleStaffUnknown": [
        "Rozmawia Pan/Pani z pracownikiem gminy."
      ],
      "close": "Zamknij",
      "closeLong": "Zamknij czat",
      "log": "Rozmowa",
      "you": "Pan/Pani",
      "bot": "Cyfrowy asystent",
      "staff": "{naam}, pracownik gminy",
      "staffUnknown": "Pracownik gminy",
      "notice": "Komunikat: ",
      "choose": "Proszę wybrać odpowiedź:",
      "inputLabel": "Pana/Pani wiadomość",
      "inputHint": "Proszę nacisnąć Enter, aby wysłać. Shift i Enter zaczynają nowy wiersz.",
      "send": "Wyślij",
      "human": "Rozmowa z pracownikiem",
      "humanMessage": "Chcę porozmawiać z pracownikiem.",
      "alreadyQueued": "Jest Pan/Pani już w kolejce. Proszę nie zamykać tego okna. Pracownik zaraz się odezwie.",
      "alreadyStaff": "Rozmawia Pan/Pani już z: {naam}. Proszę wpisać wiadomość poniżej.",
      "alreadyStaffUnknown": "Rozmawia Pan/Pani już z pracownikiem. Proszę wpisać wiadomość poniżej.",
      "restart": "Nowa rozmowa",
      "restartConfirm": "Czy chce Pan/Pani zacząć od nowa? Wtedy ta rozmowa zniknie z tego okna.",
      "newWindow": " (otwiera się w nowej karcie)",
      "typing": "Cyfrowy asystent pisze odpowiedź",
      "connecting": "Łączenie…",
      "offline": "Teraz nie ma połączenia z czatem. Próbujemy ponownie. Wyślemy Pana/Pani wiadomości, gdy tylko się uda.",
      "unavailable": "Czat teraz nie działa. Proszę spróbować później albo zadzwonić do gminy.",
      "unreadOne": "1 nowa wiadomość",
      "unreadMany": "Nowe wiadomości: {aantal}",
      "unreadAnnounce": "W czacie z gminą jest nowa wiadomość."
    },
    "tr": {
      "launcher": "Belediye ile sohbet",
      "title": "Belediye ile sohbet",
      "subtitleBot": [
        "Dijital yardımcı ile konuşuyorsunuz."
      ],
      "subtitleQueue": [
        "Bir çalışanı bekliyorsunuz.",
        "Lütfen bu pencereyi açık tutun."
      ],
      "subtitleStaff": [
        "{naam} ile konuşuyorsunuz.",
        "{naam} belediyede çalışıyor."
      ],
      "subtitleStaffUnknown": [
        "Belediyeden bir çalışan ile konuşuyorsunuz."
      ],
      "close": "Kapatın",
      "closeLong": "Sohbeti kapatın",
      "log": "Sohbet",
      "you": "Siz",
      "bot": "Dijital yardımcı",
      "staff": "{naam}, belediye çalışanı",
      "staffUnknown": "Belediye çalışanı",
      "notice": "Bildirim: ",
      "choose": "Bir cevap seçin:",
      "inputLabel": "Mesajınız",
      "inputHint": "Göndermek için Enter tuşuna basın. Yeni satır için Shift ve Enter tuşlarına basın.",
      "send": "Gönderin",
      "human": "Bir çalışanla konuşun",
      "humanMessage": "Bir çalışanla konuşmak istiyorum.",
      "alreadyQueued": "Zaten sıradasınız. Lütfen bu pencereyi açık tutun. Çalışan birazdan sizinle olacak.",
      "alreadyStaff": "Zaten {naam} ile konuşuyorsunuz. Mesajınızı aşağıya yazın.",
      "alreadyStaffUnknown": "Zaten bir çalışanla konuşuyorsunuz. Mesajınızı aşağıya yazın.",
      "restart": "Yeni sohbet",
      "restartConfirm": "Yeniden başlamak istiyor musunuz? O zaman bu sohbet bu pencereden silinir.",
      "newWindow": " (yeni sekmede açılır)",
      "typing": "Dijital yardımcı bir cevap yazıyor",
      "connecting": "Bağlanıyor…",
      "offline": "Şu anda sohbet bağlantısı yok. Tekrar deniyoruz. Bağlantı gelince mesajlarınızı göndereceğiz.",
      "unavailable": "Sohbet şu anda çalışmıyor. Daha sonra tekrar deneyin veya belediyeyi arayın.",
      "unreadOne": "1 yeni mesaj",
      "unreadMany": "{aantal} yeni mesaj",
      "unreadAnnounce": "Belediye sohbetinde yeni bir mesaj var."
    },
    "ar": {
      "launcher": "الدردشة مع البلدية",
      "title": "الدردشة مع البلدية",
      "subtitleBot": [
        "أنتم تتحدثون مع المساعد الرقمي."
      ],
      "subtitleQueue": [
        "أنتم تنتظرون موظفاً.",
        "يُرجى إبقاء هذه النافذة مفتوحة."
      ],
      "subtitleStaff": [
        "أنتم تتحدثون مع {naam}.",
        "{naam} من موظفي البلدية."
      ],
      "subtitleStaffUnknown": [
        "أنتم تتحدثون مع موظف من البلدية."
      ],
      "close": "إغلاق",
      "closeLong": "إغلاق الدردشة",
      "log": "المحادثة",
      "you": "أنتم",
      "bot": "المساعد الرقمي",
      "staff": "{naam}، من البلدية",
      "staffUnknown": "موظف البلدية",
      "notice": "تنبيه: ",
      "choose": "اختاروا إجابة:",
      "inputLabel": "رسالتكم",
      "inputHint": "اضغطوا Enter للإرسال. اضغطوا Shift وEnter لبدء سطر جديد.",
      "send": "إرسال",
      "human": "التحدث مع موظف",
      "humanMessage": "أريد التحدث مع موظف.",
      "alreadyQueued": "أنتم في قائمة الانتظار بالفعل. يُرجى إبقاء هذه النافذة مفتوحة. سيأتي الموظف إليكم قريباً.",
      "alreadyStaff": "أنتم تتحدثون بالفعل مع {naam}. اكتبوا رسالتكم في الأسفل.",
      "alreadyStaffUnknown": "أنتم تتحدثون بالفعل مع موظف. اكتبوا رسالتكم في الأسفل.",
      "restart": "محادثة جديدة",
      "restartConfirm": "هل تريدون البدء من جديد؟ عندها تختفي هذه المحادثة من هذه النافذة.",
      "newWindow": " (يُفتح في علامة تبويب جديدة)",
      "typing": "المساعد الرقمي يكتب إجابة",
      "connecting": "جارٍ الاتصال…",
      "offline": "لا يوجد اتصال بالدردشة الآن. نحاول مرة أخرى. سنرسل رسائلكم عندما ينجح الاتصال.",
      "unavailable": "الدردشة لا تعمل الآن. يُرجى المحاولة لاحقاً، أو الاتصال بالبلدية هاتفياً.",
      "unreadOne": "رسالة جديدة واحدة",
      "unreadMany": "رسائل جديدة: {aantal}",
      "unreadAnnounce": "توجد رسالة جديدة في الدردشة مع البلدية."
    },
    "uk": {
      "launcher": "Чат із громадою",
      "title": "Чат із громадою",
      "subtitleBot": [
        "Ви розмовляєте з цифровим помічником."
      ],
      "subtitleQueue": [
        "Ви чекаєте на працівника.",
        "Будь ласка, не закривайте це вікно."
      ],
      "subtitleStaff": [
        "Ви розмовляєте з: {naam}.",
        "{naam} працює в громаді."
      ],
      "subtitleStaffUnknown": [
        "Ви розмовляєте з працівником громади."
      ],
      "close": "Закрити",
      "closeLong": "Закрити чат",
      "log": "Розмова",
      "you": "Ви",
      "bot": "Цифровий помічник",
      "staff": "{naam}, працівник громади",
      "staffUnknown": "Працівник громади",
      "notice": "Сповіщення: ",
      "choose": "Оберіть відповідь:",
      "inputLabel": "Ваше повідомлення",
      "inputHint": "Натисніть Enter, щоб надіслати. Shift і Enter починають новий рядок.",
      "send": "Надіслати",
      "human": "Розмова з працівником",
      "humanMessage": "Я хочу поговорити з працівником.",
      "alreadyQueued": "Ви вже в черзі. Будь ласка, не закривайте це вікно. Працівник скоро буде з Вами.",
      "alreadyStaff": "Ви вже розмовляєте з: {naam}. Напишіть повідомлення нижче.",
      "alreadyStaffUnknown": "Ви вже розмовляєте з працівником. Напишіть повідомлення нижче.",
      "restart": "Нова розмова",
      "restartConfirm": "Бажаєте почати спочатку? Тоді ця розмова зникне з цього вікна.",
      "newWindow": " (відкривається в новій вкладці)",
      "typing": "Цифровий помічник пише відповідь",
      "connecting": "Підключення…",
      "offline": "Зараз немає з’єднання з чатом. Ми пробуємо ще раз. Ваші повідомлення надішлемо, щойно це вдасться.",
      "unavailable": "Чат зараз не працює. Спробуйте пізніше або зателефонуйте до громади.",
      "unreadOne": "1 нове повідомлення",
      "unreadMany": "Нові повідомлення: {aantal}",
      "unreadAnnounce": "У чаті з громадою є нове повідомлення."
    }
  } /* teksten:eind */;
  var TEXT = TEXTS.nl; // the interface language's texts (applyLanguage)

  // A text of the interface language with its {naam}/{aantal} filled in; an array for a subtitle.
  function words(key, values) {
    var text = Object.prototype.hasOwnProperty.call(TEXT, key) ? TEXT[key] : TEXTS.nl[key];
    function fill(part) {
      Object.keys(values || {}).forEach(function (name) {
        part = part.split('{' + name + '}').join(String(values[name]));
      });
      return part;
    }
    return Array.isArray(text) ? text.map(fill) : fill(text);
  }

  var STATE_KEY = 'gemeente-chat:gesprek';
  var OWNER_KEY = 'gemeente-chat:tabblad';
  var OPEN_KEY = 'gemeente-chat:open';
  // The bot's sign that it erased this conversation: bot/domain/privacy.yml, utter_widget_vergeten.
  var FORGET_KEY = 'gemeente_chat';
  var FORGET_VALUE = 'vergeet_gesprek';
  var FORGET_FALLBACK_MS = 2000;
  var MAX_MESSAGES = 200;
  var TYPING_TIMEOUT_MS = 20000;
  var OWNER_STALE_MS = 60000;

  // ---------------------------------------------------------------- storage (never throws)

  var memory = {};
  function storageOf(kind) {
    try {
      var storage = window[kind];
      var probe = '__gemeente-chat__';
      storage.setItem(probe, probe);
      storage.removeItem(probe);
      return storage;
    } catch (e) {
      return {
        getItem: function (k) { return Object.prototype.hasOwnProperty.call(memory, kind + k) ? memory[kind + k] : null; },
        setItem: function (k, v) { memory[kind + k] = String(v); },
        removeItem: function (k) { delete memory[kind + k]; },
      };
    }
  }
  var local = storageOf('localStorage');
  var session = storageOf('sessionStorage');

  function parseJSON(raw) {
    try {
      return raw ? JSON.parse(raw) : null;
    } catch (e) {
      return null;
    }
  }
  function readJSON(storage, key) {
    try {
      return parseJSON(storage.getItem(key));
    } catch (e) {
      return null;
    }
  }
  function writeJSON(storage, key, value) {
    try {
      if (value === null) {
        storage.removeItem(key);
      } else {
        storage.setItem(key, JSON.stringify(value));
      }
    } catch (e) {
      /* storage full or blocked: the conversation still works, it just will not survive a reload */
    }
  }

  function randomId() {
    var bytes = new Uint8Array(16);
    if (window.crypto && window.crypto.getRandomValues) {
      window.crypto.getRandomValues(bytes);
    } else {
      for (var i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
    }
    return Array.prototype.map.call(bytes, function (b) { return ('0' + b.toString(16)).slice(-2); }).join('');
  }

  // ---------------------------------------------------------------- conversation state

  function freshState() {
    return { sessionId: randomId(), updated: Date.now(), greeted: false, mode: 'bot', staffName: '', messages: [] };
  }

  function expired(candidate) {
    return Date.now() - (candidate.updated || 0) > CONFIG.sessionMinutes * 60000;
  }

  function validState(candidate) {
    return !!(candidate && typeof candidate.sessionId === 'string' && candidate.sessionId &&
      Array.isArray(candidate.messages) && !expired(candidate));
  }

  function loadState() {
    var found = readJSON(local, STATE_KEY);
    if (validState(found)) return found;
    if (found) writeJSON(local, STATE_KEY, null); // expired: nothing personal stays behind
    return null;
  }

  var stored = loadState();
  var state = stored || freshState();
  var persisted = !!stored; // a visitor who never opens the chat leaves nothing behind
  // The conversation was erased on the server: it stays on screen, but is never stored again, and
  // the citizen's next message starts a new conversation (startAfresh).
  var forgotten = false;

  function persist() {
    state.updated = Date.now();
    if (state.messages.length > MAX_MESSAGES) {
      var drop = state.messages.length - MAX_MESSAGES;
      state.messages = state.messages.slice(drop);
      rendered.splice(0, drop).forEach(function (entry) {
        if (entry.element.parentNode) entry.element.parentNode.removeChild(entry.element);
      });
    }
    if (forgotten) return;
    persisted = true;
    writeJSON(local, STATE_KEY, state);
    claimOwnership();
  }

  // Several tabs may show the same conversation: all of them are in the socket.io room, but only
  // the tab that was used last writes incoming messages to storage; the others follow through
  // the `storage` event. That keeps the transcript free of duplicates.
  var tabId = randomId();
  function claimOwnership() {
    if (persisted) writeJSON(local, OWNER_KEY, { tab: tabId, session: state.sessionId, at: Date.now() });
  }
  function isOwner() {
    var owner = readJSON(local, OWNER_KEY);
    return !owner || owner.tab === tabId || owner.session !== state.sessionId ||
      Date.now() - (owner.at || 0) > OWNER_STALE_MS;
  }

  // ---------------------------------------------------------------- classifying bot messages

  // What the bot sends is either an ordinary message ({text, quick_replies}) or, for the live chat
  // with a casemanager, a structured message (a custom payload, bot/domain/medewerker.yml and
  // bot/payloads.py):
  //   {type: 'staff_message', name, text}          a casemanager's own words
  //   {type: 'mode', mode, text, name?, ...}        queue, casemanager, back to the bot
  //   {type: 'agenda', text, label, filename, ics}  an appointment's calendar file (iCalendar)
  // Only those make a casemanager's bubble or change the mode; an `agenda` message is the bot's,
  // with a download link for its file (made here, in the browser: no address on a server). A text is always the bot's, whatever
  // it says: the citizen's words that the bot repeats can never pass for a casemanager's.
  var MODES = { queued: 'queue', staff: 'staff', handover: 'handover', closed: 'bot', bot: 'bot' };

  function isText(value) {
    return typeof value === 'string' && value.trim() !== '';
  }

  // What a message from the bot is: { from: 'staff' | 'status' | 'bot', text, name?, mode?, staffName? }.
  function kindOf(data) {
    if (!data || typeof data !== 'object') return null;
    if (data.type === 'staff_message') {
      if (!isText(data.text)) return null;
      return { from: 'staff', name: isText(data.name) ? data.name.trim() : 'Medewerker', text: data.text };
    }
    if (data.type === 'mode') {
      var kind = { from: 'status', text: isText(data.text) ? data.text : '' };
      if (Object.prototype.hasOwnProperty.call(MODES, data.mode)) kind.mode = MODES[data.mode];
      if (kind.mode === 'staff') {
        var name = isText(data.name) ? data.name.trim() : '';
        kind.staffName = !name || name === 'Een medewerker' ? 'een medewerker' : name;
      }
      return kind;
    }
    if (data.type === 'agenda') {
      var file = calendarFile(data);
      return file ? { from: 'bot', text: isText(data.text) ? data.text : '', file: file } : null;
    }
    if (data.type !== undefined) return null; // a structured message this widget does not know
    return { from: 'bot', text: typeof data.text === 'string' ? data.text : '' };
  }

  // The calendar file of an `agenda` message, or null when it is not a sane .ics file: a plain
  // name ending in .ics, text that starts as an iCalendar file does, at most 16 kB.
  var FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
  var MAX_CALENDAR_CHARS = 16384;
  function calendarFile(data) {
    var name = data.filename;
    if (typeof name !== 'string' || !FILE_NAME.test(name) || name.slice(-4) !== '.ics') return null;
    if (typeof data.ics !== 'string' || data.ics.indexOf('BEGIN:VCALENDAR') !== 0) return null;
    if (data.ics.length > MAX_CALENDAR_CHARS) return null;
    return { name: data.filename, label: isText(data.label) ? data.label.trim() : data.filename, ics: data.ics };
  }

  // kindOf, plus what follows from it for this conversation: the mode.
  function classify(data) {
    var kind = kindOf(data);
    if (!kind) return null;
    if (kind.mode === 'staff') {
      state.staffName = kind.staffName;
      state.mode = 'staff';
    } else if (kind.mode === 'handover') {
      if (state.mode === 'bot') state.mode = 'queue'; // in the queue or with a person: keep which
    } else if (kind.mode) {
      state.mode = kind.mode;
    }
    if (kind.from === 'staff') return { from: 'staff', name: kind.name, text: kind.text };
    if (kind.file) return { from: 'bot', text: kind.text, file: kind.file };
    return { from: kind.from, text: kind.text };
  }

  // ---------------------------------------------------------------- DOM helpers

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  var SVG_NS = 'http://www.w3.org/2000/svg';
  var ICONS = {
    chat: 'M4 4h16a2 2 0 0 1 2 2v10a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2zm2 5h12v2H6zm0 4h8v2H6z',
    calendar: 'M7 2h2v2h6V2h2v2h2a2 2 0 0 1 2 2v14a2 2 0 0 1-2 2H5a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2h2zM5 9v11h14V9zm2 2h4v4H7z',
    close: 'M6.4 5 12 10.6 17.6 5 19 6.4 13.4 12 19 17.6 17.6 19 12 13.4 6.4 19 5 17.6 10.6 12 5 6.4z',
    person: 'M12 12a4.5 4.5 0 1 0 0-9 4.5 4.5 0 0 0 0 9zm0 2c-4.4 0-8 2.2-8 5v2h16v-2c0-2.8-3.6-5-8-5z',
    info: 'M12 2a10 10 0 1 0 0 20 10 10 0 0 0 0-20zm1 15h-2v-6h2zm0-8h-2V7h2z',
    send: 'M3 20.5 21 12 3 3.5 3 10l12 2-12 2z',
    restart: 'M17.65 6.35A8 8 0 1 0 19.73 14h-2.08A6 6 0 1 1 12 6c1.66 0 3.14.69 4.22 1.78L13 11h7V4z',
  };
  function icon(name) {
    var svg = document.createElementNS(SVG_NS, 'svg');
    svg.setAttribute('viewBox', '0 0 24 24');
    svg.setAttribute('aria-hidden', 'true');
    svg.setAttribute('focusable', 'false');
    svg.setAttribute('class', 'gcw-icon');
    var path = document.createElementNS(SVG_NS, 'path');
    path.setAttribute('d', ICONS[name]);
    path.setAttribute('fill', 'currentColor');
    svg.appendChild(path);
    return svg;
  }

  function srOnly(text) {
    return el('span', 'gcw-sr', text);
  }

  // Web addresses (with https://, with www. or just "digid.nl" as the bot writes them) and phone
  // numbers in a message become links. They are found by their shape only: no pattern here
  // contains a word (tests/widget/test_no_text_parsing.py). Alternatives in this order, so a number
  // inside "113.nl" stays part of the address.
  var LINK_PATTERN = /https?:\/\/[^\s<>"']+|www\.[^\s<>"']+|[a-z0-9][a-z0-9-]*(?:\.[a-z0-9-]+)*\.nl(?![a-z0-9-])(?:\/[^\s<>"']*)?|\+?[0-9]+(?:[ -][0-9]+)*/gi;
  var TRAILING_PUNCTUATION = /[.,;:!?)]+$/;
  var WORD_CHAR = /[a-z0-9]/i;

  // Where a found piece of text links to, or null. A number is only a phone number in the Dutch
  // shapes of an organisation's line (10 digits from 0 or +31, or 0800/0900 with 4 to 7 digits):
  // amounts, dates and references stay text. Not linked: short numbers (112, 113), since a
  // citizen's "112 euro" repeated in a summary must not call 112, and mobile numbers (06), which
  // are the citizen's own or an example ("Typ het bijvoorbeeld zo: 06 12345678").
  function linkTarget(found) {
    if (/^https?:\/\//i.test(found)) return found;
    if (/^\+?[0-9]/.test(found) && !/\.nl/i.test(found)) {
      var digits = found.replace(/[ -]/g, '');
      var national = /^0[1-57-9][0-9]{8}$/.test(digits) || /^0[89]0[0-9][ -]?[0-9]{4,7}$/.test(found);
      return national || /^\+31[1-57-9][0-9]{8}$/.test(digits) ? 'tel:' + digits : null;
    }
    return 'https://' + found;
  }

  function appendLink(parent, text, href) {
    var link = el('a', 'gcw-link', text);
    link.href = href;
    if (href.indexOf('tel:') !== 0) {
      link.target = '_blank';
      link.rel = 'noopener noreferrer';
      link.appendChild(srOnly(words('newWindow')));
    }
    parent.appendChild(link);
  }

  // Text with line breaks (CSS pre-line) and clickable links, built with DOM nodes: the message is
  // never parsed as HTML.
  function appendRichText(parent, text) {
    var last = 0;
    var match;
    LINK_PATTERN.lastIndex = 0;
    while ((match = LINK_PATTERN.exec(text)) !== null) {
      var found = match[0].replace(TRAILING_PUNCTUATION, '');
      var end = match.index + found.length;
      var before = text.charAt(match.index - 1);
      var after = text.charAt(end);
      // Part of something longer (an e-mail address, an IBAN, a path): leave it as text.
      var inside = WORD_CHAR.test(before) || '@/.'.indexOf(before || ' ') >= 0 || WORD_CHAR.test(after) ||
        after === '@';
      var href = found && !inside ? linkTarget(found) : null;
      if (href) {
        if (match.index > last) parent.appendChild(document.createTextNode(text.slice(last, match.index)));
        appendLink(parent, found, href);
        last = end;
      }
      LINK_PATTERN.lastIndex = Math.max(end, match.index + 1);
    }
    if (last < text.length) parent.appendChild(document.createTextNode(text.slice(last)));
  }

  // ---------------------------------------------------------------- the conversation language

  // The bot sends the conversation language with each message (`lang`, bot/channels/website): the
  // widget follows it, with its own texts (TEXTS), for screen readers (lang) and right to left for
  // Arabic (dir). Only the bot's six languages; anything else is ignored. Before the bot has said
  // which language the conversation has, the host page's own lang (<html lang="en">, "pl-PL") is
  // used when it is one of the six, else Dutch: a municipality's English page shows the English
  // launcher. The bot itself starts in Dutch and follows the citizen's language.
  var LANGUAGES = ['nl', 'en', 'pl', 'tr', 'ar', 'uk'];
  var RIGHT_TO_LEFT = ['ar'];
  var PAGE_LANGUAGE = (function () {
    var code = (document.documentElement.getAttribute('lang') || '').trim().toLowerCase().split('-')[0];
    return LANGUAGES.indexOf(code) >= 0 ? code : 'nl';
  })();
  var shownLanguage = null;

  function applyLanguage() {
    var code = LANGUAGES.indexOf(state.lang) >= 0 ? state.lang : PAGE_LANGUAGE;
    if (code === shownLanguage) return;
    shownLanguage = code;
    TEXT = TEXTS[code];
    root.setAttribute('lang', code);
    root.setAttribute('dir', RIGHT_TO_LEFT.indexOf(code) >= 0 ? 'rtl' : 'ltr');
    showTexts();
  }

  function noteLanguage(data) {
    if (typeof data.lang !== 'string' || LANGUAGES.indexOf(data.lang) < 0 || data.lang === state.lang) return;
    state.lang = data.lang;
    applyLanguage();
  }

  // Every interface text in the DOM in the current language. The messages themselves stay as they
  // were written; their sender labels follow.
  function showTexts() {
    root.setAttribute('aria-label', words('title'));
    launcherText.textContent = words('launcher');
    title.textContent = words('title');
    closeButton.setAttribute('aria-label', words('closeLong'));
    closeText.textContent = words('close');
    log.setAttribute('aria-label', words('log'));
    typingText.textContent = words('typing');
    label.textContent = words('inputLabel');
    sendText.textContent = words('send');
    hint.textContent = words('inputHint');
    humanText.textContent = words('human');
    restartText.textContent = words('restart');
    rendered.forEach(function (entry) {
      var sender = entry.element.querySelector('.gcw-sender-name');
      if (sender) sender.textContent = senderLabel(entry.message);
    });
    updateMode();
    updateBadge();
    setConnection(connectionKey);
  }

  // ---------------------------------------------------------------- the widget's DOM

  var root = el('aside', 'gcw');

  var launcher = el('button', 'gcw-launcher');
  launcher.type = 'button';
  launcher.setAttribute('aria-expanded', 'false');
  launcher.setAttribute('aria-controls', 'gcw-panel');
  launcher.appendChild(icon('chat'));
  var launcherText = el('span', 'gcw-launcher-text');
  launcher.appendChild(launcherText);
  var badge = el('span', 'gcw-badge');
  badge.hidden = true;
  launcher.appendChild(badge);

  var announcer = el('p', 'gcw-sr');
  announcer.setAttribute('role', 'status');

  var panel = el('div', 'gcw-panel');
  panel.id = 'gcw-panel';
  panel.hidden = true;
  panel.setAttribute('role', 'dialog');
  panel.setAttribute('aria-modal', 'false');
  panel.setAttribute('aria-labelledby', 'gcw-title');
  panel.setAttribute('aria-describedby', 'gcw-subtitle');

  var header = el('div', 'gcw-header');
  var heading = el('div', 'gcw-heading');
  var title = el('h2', 'gcw-title');
  title.id = 'gcw-title';
  var subtitle = el('p', 'gcw-subtitle');
  subtitle.id = 'gcw-subtitle';
  heading.appendChild(title);
  heading.appendChild(subtitle);
  var closeButton = el('button', 'gcw-close');
  closeButton.type = 'button';
  closeButton.appendChild(icon('close'));
  var closeText = el('span', 'gcw-close-text');
  closeButton.appendChild(closeText);
  header.appendChild(heading);
  header.appendChild(closeButton);

  var connection = el('p', 'gcw-connection');
  connection.setAttribute('role', 'status');

  var log = el('div', 'gcw-log');
  log.setAttribute('role', 'log');
  log.setAttribute('aria-live', 'polite');
  log.tabIndex = 0; // scrollable with the keyboard

  var typing = el('div', 'gcw-typing');
  typing.setAttribute('aria-hidden', 'true');
  typing.hidden = true;
  var dots = el('span', 'gcw-dots');
  dots.appendChild(el('span'));
  dots.appendChild(el('span'));
  dots.appendChild(el('span'));
  typing.appendChild(dots);
  var typingText = el('span', 'gcw-typing-text');
  typing.appendChild(typingText);

  var form = el('form', 'gcw-form');
  form.setAttribute('novalidate', '');
  var label = el('label', 'gcw-label');
  label.htmlFor = 'gcw-input';
  var inputRow = el('div', 'gcw-input-row');
  var input = el('textarea', 'gcw-input');
  input.id = 'gcw-input';
  input.rows = 1;
  input.maxLength = 1000;
  input.setAttribute('autocomplete', 'off');
  input.setAttribute('aria-describedby', 'gcw-hint');
  var sendButton = el('button', 'gcw-send');
  sendButton.type = 'submit';
  sendButton.appendChild(icon('send'));
  var sendText = el('span', 'gcw-send-text');
  sendButton.appendChild(sendText);
  inputRow.appendChild(input);
  inputRow.appendChild(sendButton);
  var hint = el('p', 'gcw-sr');
  hint.id = 'gcw-hint';
  form.appendChild(label);
  form.appendChild(inputRow);
  form.appendChild(hint);

  var tools = el('div', 'gcw-tools');
  var humanButton = el('button', 'gcw-human');
  humanButton.type = 'button';
  humanButton.appendChild(icon('person'));
  var humanText = el('span', '');
  humanButton.appendChild(humanText);
  var restartButton = el('button', 'gcw-restart');
  restartButton.type = 'button';
  restartButton.appendChild(icon('restart')); // shown instead of the text on narrow screens
  var restartText = el('span', 'gcw-restart-text');
  restartButton.appendChild(restartText);
  tools.appendChild(humanButton);
  tools.appendChild(restartButton);

  panel.appendChild(header);
  panel.appendChild(connection);
  panel.appendChild(log);
  panel.appendChild(typing);
  panel.appendChild(form);
  panel.appendChild(tools);
  root.appendChild(launcher);
  root.appendChild(announcer);
  root.appendChild(panel);

  // ---------------------------------------------------------------- rendering the transcript

  var rendered = []; // [{ message, element }] in the same order as state.messages

  function senderLabel(message) {
    if (message.from === 'user') return words('you');
    if (message.from === 'staff') {
      var name = message.name || '';
      return !name || name.toLowerCase() === 'medewerker' ? words('staffUnknown') : words('staff', { naam: name });
    }
    return words('bot');
  }

  function sameSender(a, b) {
    return !!a && !!b && a.from === b.from && (a.from !== 'staff' || a.name === b.name);
  }

  function messageElement(message, previous) {
    var item = el('div', 'gcw-msg gcw-msg--' + message.from);
    if (message.from !== 'status' && !sameSender(message, previous)) {
      var sender = el('p', 'gcw-sender');
      if (message.from === 'staff') sender.appendChild(icon('person'));
      sender.appendChild(el('span', 'gcw-sender-name', senderLabel(message)));
      item.appendChild(sender);
    }
    var bubble = el('p', 'gcw-bubble');
    if (message.from === 'status') {
      bubble.appendChild(icon('info'));
      bubble.appendChild(srOnly(words('notice')));
    }
    var body = el('span', 'gcw-text');
    appendRichText(body, message.text);
    bubble.appendChild(body);
    item.appendChild(bubble);
    if (message.file) item.appendChild(fileElement(message.file));
    if (message.replies && message.replies.length && !message.answered) {
      item.appendChild(repliesElement(message));
    }
    return item;
  }

  // A download link for a file that came with a message (an appointment's calendar file). The
  // file is made here from the message, as a blob: URL of this page; nothing is fetched, and no
  // address with the appointment in it exists anywhere. One URL per file, kept while the page lives.
  var fileUrls = {};
  function fileElement(file) {
    var link = el('a', 'gcw-file');
    link.appendChild(icon('calendar'));
    link.appendChild(el('span', '', file.label));
    link.setAttribute('download', file.name);
    var key = file.name + ':' + file.ics;
    if (!fileUrls[key]) {
      try {
        fileUrls[key] = URL.createObjectURL(new Blob([file.ics], { type: 'text/calendar;charset=utf-8' }));
      } catch (e) {
        fileUrls[key] = 'data:text/calendar;charset=utf-8,' + encodeURIComponent(file.ics);
      }
    }
    link.href = fileUrls[key];
    return link;
  }

  var groupCount = 0;
  function repliesElement(message) {
    var group = el('div', 'gcw-replies');
    group.setAttribute('role', 'group');
    var groupLabel = srOnly(words('choose'));
    groupLabel.id = 'gcw-choose-' + (++groupCount);
    group.setAttribute('aria-labelledby', groupLabel.id);
    group.appendChild(groupLabel);
    message.replies.forEach(function (reply) {
      var button = el('button', 'gcw-reply', reply.title);
      button.type = 'button';
      button.addEventListener('click', function () { choose(reply); });
      group.appendChild(button);
    });
    return group;
  }

  function renderAll() {
    log.textContent = '';
    rendered = [];
    syncLog();
  }

  // Bring the log in line with state.messages: append what is new, drop answered buttons.
  function syncLog() {
    var messages = state.messages;
    var consistent = rendered.length <= messages.length && rendered.every(function (entry, i) {
      return entry.message.text === messages[i].text && entry.message.from === messages[i].from;
    });
    if (!consistent) {
      log.textContent = '';
      rendered = [];
    }
    rendered.forEach(function (entry, i) {
      entry.message = messages[i];
      if (messages[i].answered) {
        var group = entry.element.querySelector('.gcw-replies');
        if (group) group.parentNode.removeChild(group);
      }
    });
    var added = 0;
    for (var i = rendered.length; i < messages.length; i++) {
      var element = messageElement(messages[i], messages[i - 1]);
      log.appendChild(element);
      rendered.push({ message: messages[i], element: element });
      if (messages[i].from === 'user') {
        batchStart = null;
      } else if (messages[i].local) {
        batchStart = element; // a notice the citizen asked for: show it
        lastArrival = Date.now();
      } else {
        added++;
        // Rasa sends an answer as several messages; they form one batch.
        if (!batchStart || Date.now() - lastArrival > 2000) batchStart = element;
        lastArrival = Date.now();
      }
    }
    updateMode();
    scrollToEnd();
    return added;
  }

  // Show the newest messages, but never scroll past the start of the latest answer: a long answer
  // is read from its beginning.
  var batchStart = null;
  var lastArrival = 0;
  function scrollToEnd() {
    var bottom = log.scrollHeight - log.clientHeight;
    var target = bottom;
    if (batchStart && batchStart.parentNode === log) {
      target = Math.min(bottom, batchStart.offsetTop - 12);
    }
    log.scrollTop = Math.max(0, target);
  }

  function updateMode() {
    if (state.mode === 'staff') {
      showSubtitle(knownStaff() ? words('subtitleStaff', { naam: state.staffName }) : words('subtitleStaffUnknown'));
    } else if (state.mode === 'queue') {
      showSubtitle(words('subtitleQueue'));
    } else {
      showSubtitle(words('subtitleBot'));
    }
    root.setAttribute('data-mode', state.mode);
  }

  // The casemanager's name is known ('een medewerker': not, as older transcripts stored it).
  function knownStaff() {
    return !!state.staffName && state.staffName !== 'een medewerker';
  }

  // The second sentence is hidden on low screens (CSS), where the notices in the messages say it.
  function showSubtitle(parts) {
    subtitle.textContent = parts[0];
    if (parts[1]) subtitle.appendChild(el('span', 'gcw-subtitle-more', ' ' + parts[1]));
  }

  // ---------------------------------------------------------------- open / close, unread

  var unread = 0;

  function isOpen() {
    return !panel.hidden;
  }

  function open(moveFocus) {
    if (persisted && expired(state)) restart(false);
    if (!isOpen()) {
      panel.hidden = false;
      launcher.hidden = true;
      launcher.setAttribute('aria-expanded', 'true');
      root.classList.add('gcw--open');
      session.setItem(OPEN_KEY, '1');
      unread = 0;
      updateBadge();
      scrollToEnd();
    }
    if (moveFocus !== false) input.focus();
    claimOwnership();
    connect();
    if (!state.greeted) {
      state.greeted = true;
      persist();
      emit('/begroeten');
    }
  }

  function close() {
    if (!isOpen()) return;
    panel.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute('aria-expanded', 'false');
    root.classList.remove('gcw--open');
    session.removeItem(OPEN_KEY);
    launcher.focus();
  }

  function updateBadge() {
    badge.hidden = unread === 0;
    badge.textContent = '';
    if (unread) {
      badge.appendChild(el('span', '', String(unread)));
      badge.appendChild(srOnly(' ' + (unread === 1 ? words('unreadOne') : words('unreadMany', { aantal: unread }))));
    }
  }

  function noteArrivals(count) {
    if (!count || isOpen()) return;
    unread += count;
    updateBadge();
    announcer.textContent = '';
    window.setTimeout(function () { announcer.textContent = words('unreadAnnounce'); }, 50);
  }

  // ---------------------------------------------------------------- sending

  var outbox = [];
  var socket = null;
  var ready = false; // session confirmed: the socket is in the conversation's room
  var typingTimer = null;

  function showTyping() {
    if (state.mode !== 'bot') return;
    typing.hidden = false;
    window.clearTimeout(typingTimer);
    typingTimer = window.setTimeout(hideTyping, TYPING_TIMEOUT_MS);
  }
  function hideTyping() {
    typing.hidden = true;
    window.clearTimeout(typingTimer);
  }

  function emit(text) {
    outbox.push({ id: randomId(), text: text, sent: false });
    flush();
  }

  // Send what is waiting, once the socket is in the conversation's room. A message stays in the
  // outbox until the server acknowledges it (after its turn); after a reconnect the unacknowledged
  // ones go again, with the same message_id, so the service can tell a repeat (a server that died
  // mid-turn took the first one with it).
  function flush() {
    if (!socket || !ready) return;
    var sent = false;
    outbox.forEach(function (entry) {
      if (entry.sent) return;
      entry.sent = sent = true;
      // `metadata`: the key Rasa's socket.io channel reads into the message (metadata_key)
      var data = { message: entry.text, session_id: state.sessionId, metadata: { message_id: entry.id } };
      socket.emit('user_uttered', data, function () {
        var at = outbox.indexOf(entry);
        if (at !== -1) outbox.splice(at, 1);
      });
    });
    if (sent) showTyping();
  }

  function addMessage(message) {
    state.messages.push(message);
    persist();
    return syncLog();
  }

  function markAnswered() {
    state.messages.forEach(function (message) {
      if (message.replies && message.replies.length) message.answered = true;
    });
  }

  function say(text) {
    var clean = text.replace(/\s+$/, '').replace(/^\s+/, '');
    if (!clean) return;
    startAfresh();
    markAnswered();
    addMessage({ from: 'user', text: clean });
    emit(clean);
  }

  function choose(reply) {
    startAfresh();
    markAnswered();
    addMessage({ from: 'user', text: reply.title });
    emit(reply.payload);
    input.focus(); // the pressed button disappears; the conversation goes on in the text field
  }

  function askForPerson() {
    startAfresh();
    if (state.mode === 'queue') {
      addMessage({ from: 'status', text: words('alreadyQueued'), local: true });
    } else if (state.mode === 'staff') {
      addMessage({ from: 'status', text: knownStaff() ? words('alreadyStaff', { naam: state.staffName }) : words('alreadyStaffUnknown'), local: true });
    } else {
      markAnswered();
      addMessage({ from: 'user', text: words('humanMessage') });
      emit('/medewerker');
    }
  }

  function restart(confirmFirst) {
    if (confirmFirst && state.messages.length && !window.confirm(words('restartConfirm'))) return;
    var wasPersisted = persisted;
    forgotten = false;
    state = freshState();
    outbox = [];
    hideTyping();
    writeJSON(local, STATE_KEY, null);
    persisted = false;
    applyLanguage(); // a new conversation starts in the page's language again
    renderAll();
    if (socket) {
      ready = false;
      socket.disconnect(); // leaves the old conversation's room
      socket.connect();
    }
    if (confirmFirst || wasPersisted) {
      if (isOpen()) {
        state.greeted = true;
        persist();
        emit('/begroeten');
        input.focus();
      }
    }
  }

  // "Verwijder mijn gegevens": the bot erased the conversation on its side, so the browser forgets
  // its copy too (session id and transcript; a shared computer shows nothing after a reload). The
  // bot's last messages stay on screen until the citizen goes on.
  function forget() {
    forgotten = true;
    persisted = false;
    hideTyping();
    state.mode = 'bot'; // a live chat ends with the erasure too (the bot closed the case)
    updateMode();
    writeJSON(local, STATE_KEY, null);
    writeJSON(local, OWNER_KEY, null); // it names the session too
  }

  // The first message after forget() belongs to a new conversation, without a second welcome.
  function startAfresh() {
    if (!forgotten) return;
    restart(false);
    state.greeted = true;
  }

  // ---------------------------------------------------------------- socket.io

  // The connection notice by its key (offline, unavailable, connecting), so it follows the language.
  var connectionKey = '';
  function setConnection(key) {
    connectionKey = key;
    connection.textContent = key ? words(key) : '';
    connection.hidden = !key;
  }
  setConnection('');
  applyLanguage(); // the first paint: every element above exists now

  var socketIoLoading = null;
  function loadSocketIo(callback) {
    if (window.io) {
      callback(window.io);
      return;
    }
    if (!socketIoLoading) {
      socketIoLoading = [];
      var tag = document.createElement('script');
      tag.src = CONFIG.socketIoSrc;
      tag.async = true;
      tag.onload = function () {
        var waiting = socketIoLoading;
        socketIoLoading = null;
        if (!window.io) {
          setConnection('unavailable');
          return;
        }
        waiting.forEach(function (cb) { cb(window.io); });
      };
      tag.onerror = function () {
        socketIoLoading = null;
        setConnection('unavailable');
      };
      document.head.appendChild(tag);
    }
    socketIoLoading.push(callback);
  }

  var connectingTimer = null;
  function connect() {
    if (socket || socketIoLoading) return;
    connectingTimer = window.setTimeout(function () {
      if (!ready && !connection.textContent) setConnection('connecting');
    }, 1500);
    loadSocketIo(function (io) {
      if (socket) return;
      socket = io(CONFIG.rasaUrl, {
        path: CONFIG.socketPath,
        transports: ['websocket', 'polling'],
        tryAllTransports: true,
        reconnectionDelayMax: 10000,
      });
      socket.on('connect', function () {
        ready = false;
        socket.emit('session_request', { session_id: state.sessionId });
      });
      socket.on('session_confirm', function (confirmed) {
        var id = confirmed && typeof confirmed === 'object' ? confirmed.session_id : confirmed;
        if (id && id !== state.sessionId) return; // an answer for a conversation we have left
        ready = true;
        window.clearTimeout(connectingTimer);
        setConnection('');
        flush();
      });
      socket.on('bot_uttered', receive);
      socket.on('disconnect', function () {
        ready = false;
        outbox.forEach(function (entry) { entry.sent = false; }); // again after the reconnect
        setConnection('offline');
      });
      socket.on('connect_error', function () {
        setConnection('offline');
      });
    });
  }

  // Every message from the server carries its `mid`: acknowledged at once (the server keeps it until
  // then and sends it again after a reconnect), and shown only once, also across page reloads.
  // A casemanager's message also carries the service's own `id`: the same message handled twice by
  // the bot (an instance that died before it answered) has two mids but one id.
  var MAX_MIDS = 200;
  function alreadyShown(data) {
    if (typeof data.mid === 'string' && socket) socket.emit('bot_uttered_ack', { mid: data.mid });
    var keys = [];
    if (typeof data.mid === 'string') keys.push(data.mid);
    if (data.type === 'staff_message' && typeof data.id === 'string' && data.id) keys.push('medewerker:' + data.id);
    if (!keys.length) return false;
    var mids = state.mids || (state.mids = []);
    var seen = keys.some(function (key) { return mids.indexOf(key) !== -1; });
    keys.forEach(function (key) { if (mids.indexOf(key) === -1) mids.push(key); });
    if (mids.length > MAX_MIDS) mids.splice(0, mids.length - MAX_MIDS);
    return seen;
  }

  function receive(data) {
    if (!data || typeof data !== 'object') return;
    if (alreadyShown(data)) return;
    if (data[FORGET_KEY] === FORGET_VALUE) {
      hideTyping();
      if (isOwner()) {
        forget(); // other tabs follow through the `storage` event, with the last messages
      } else {
        var erased = state.sessionId; // in case the owner tab missed it
        window.setTimeout(function () {
          if (!forgotten && state.sessionId === erased) forget();
        }, FORGET_FALLBACK_MS);
      }
      return;
    }
    noteLanguage(data);
    var kind = kindOf(data);
    if (!kind) return;
    var replies = kind.from === 'bot' ? (data.quick_replies || data.buttons || []).filter(function (reply) {
      return reply && typeof reply.title === 'string' && typeof reply.payload === 'string';
    }).map(function (reply) {
      return { title: reply.title, payload: reply.payload };
    }) : [];
    if (!kind.text && !replies.length && !kind.mode) return;
    hideTyping();
    if (!isOwner()) return; // the tab that was used last stores it; we follow via `storage`
    var message = classify(data);
    if (!message.text && !replies.length) {
      persist(); // a change of mode without a sentence
      updateMode();
      return;
    }
    if (replies.length) message.replies = replies;
    noteArrivals(addMessage(message));
  }

  // Another tab changed the conversation.
  window.addEventListener('storage', function (event) {
    if (event.key !== STATE_KEY) return;
    if (!event.newValue) {
      // Another tab forgot this conversation (erased, restarted or expired): show what it had
      // last, and forget it here too, or this tab would store it again.
      var last = parseJSON(event.oldValue);
      if (forgotten || !last || last.sessionId !== state.sessionId) return;
      if (Array.isArray(last.messages)) {
        state = last;
        syncLog();
      }
      forget();
      return;
    }
    var next = readJSON(local, STATE_KEY);
    if (!validState(next)) return;
    var switched = next.sessionId !== state.sessionId;
    if (forgotten && !switched) return; // an erased conversation never comes back
    forgotten = false;
    state = next;
    persisted = true;
    applyLanguage();
    if (switched) {
      renderAll();
      if (socket) {
        ready = false;
        socket.disconnect();
        socket.connect();
      } else {
        connect();
      }
    } else {
      hideTyping();
      noteArrivals(syncLog());
    }
  });

  function onActive() {
    if (document.visibilityState === 'visible') claimOwnership();
  }
  document.addEventListener('visibilitychange', onActive);
  window.addEventListener('focus', onActive);
  window.setInterval(function () { if (isOwnerTab()) claimOwnership(); }, OWNER_STALE_MS / 3);
  function isOwnerTab() {
    var owner = readJSON(local, OWNER_KEY);
    return !!owner && owner.tab === tabId;
  }
  window.addEventListener('pagehide', function () {
    if (isOwnerTab()) writeJSON(local, OWNER_KEY, null);
  });

  // ---------------------------------------------------------------- events

  launcher.addEventListener('click', function () { open(true); });
  closeButton.addEventListener('click', close);
  panel.addEventListener('keydown', function (event) {
    if ((event.key === 'Escape' || event.key === 'Esc') && !event.defaultPrevented) {
      event.preventDefault();
      close();
    }
  });
  form.addEventListener('submit', function (event) {
    event.preventDefault();
    var text = input.value;
    if (!text.trim()) {
      input.focus();
      return;
    }
    input.value = '';
    autoGrow();
    say(text);
  });
  input.addEventListener('keydown', function (event) {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      form.dispatchEvent(new Event('submit', { cancelable: true }));
    }
  });
  function autoGrow() {
    input.style.height = 'auto';
    input.style.height = Math.min(input.scrollHeight + 4, 160) + 'px';
  }
  input.addEventListener('input', autoGrow);
  humanButton.addEventListener('click', askForPerson);
  restartButton.addEventListener('click', function () { restart(true); });
  // Any element on the page can open the chat: <button data-gemeente-chat-open>…</button>
  document.addEventListener('click', function (event) {
    var target = event.target && event.target.closest && event.target.closest('[data-gemeente-chat-open]');
    if (target) {
      event.preventDefault();
      open(true);
    }
  });

  // ---------------------------------------------------------------- start

  function mount() {
    renderAll(); // before the log is in the document: history is not read out again
    document.body.appendChild(root);
    if (persisted) {
      claimOwnership();
      connect(); // messages sent to this conversation while the panel is closed still arrive
      if (session.getItem(OPEN_KEY)) open(false);
    }
  }

  var stylesheet = document.createElement('link');
  stylesheet.rel = 'stylesheet';
  stylesheet.href = CONFIG.stylesheet;
  var mounted = false;
  function mountOnce() {
    if (!mounted) {
      mounted = true;
      mount();
    }
  }
  stylesheet.onload = mountOnce;
  stylesheet.onerror = mountOnce;
  window.setTimeout(mountOnce, 3000);
  document.head.appendChild(stylesheet);

  window.GemeenteChat = {
    open: function () { open(true); },
    close: close,
    restart: function () { restart(false); },
    sessionId: function () { return state.sessionId; },
    kindOf: kindOf,
  };
})();

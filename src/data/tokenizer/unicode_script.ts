/**
 * Unicode Script property lookup for the trainer's `split_by_unicode_script` rule (a piece may not
 * mix scripts, so "F1" or "aб" never become pieces). Uses the engine's own Unicode tables through
 * `\p{Script=…}` regular expressions, cached per code point. Following SentencePiece, Hiragana,
 * Katakana and U+30FC count as Han, so Japanese words can form one piece.
 */

/** Script names accepted by `\p{Script=…}` in Node 20's V8 (Unicode 15–17). */
const SCRIPT_NAMES = [
  'Latin', 'Common', 'Inherited', 'Cyrillic', 'Greek', 'Arabic', 'Han', 'Hiragana', 'Katakana', 'Hangul',
  'Hebrew', 'Devanagari', 'Bengali', 'Thai', 'Georgian', 'Armenian', 'Ethiopic', 'Tamil', 'Telugu', 'Kannada',
  'Malayalam', 'Gujarati', 'Gurmukhi', 'Oriya', 'Sinhala', 'Myanmar', 'Khmer', 'Lao', 'Tibetan', 'Mongolian',
  'Syriac', 'Thaana', 'Tifinagh', 'Cherokee', 'Canadian_Aboriginal', 'Yi', 'Vai', 'Nko', 'Bopomofo',
  'Adlam', 'Ahom', 'Anatolian_Hieroglyphs', 'Avestan', 'Balinese', 'Bamum', 'Bassa_Vah', 'Batak', 'Bhaiksuki',
  'Brahmi', 'Braille', 'Buginese', 'Buhid', 'Carian', 'Caucasian_Albanian', 'Chakma', 'Cham', 'Chorasmian',
  'Coptic', 'Cuneiform', 'Cypriot', 'Cypro_Minoan', 'Deseret', 'Dives_Akuru', 'Dogra', 'Duployan',
  'Egyptian_Hieroglyphs', 'Elbasan', 'Elymaic', 'Glagolitic', 'Gothic', 'Grantha', 'Gunjala_Gondi',
  'Hanifi_Rohingya', 'Hanunoo', 'Hatran', 'Imperial_Aramaic', 'Inscriptional_Pahlavi', 'Inscriptional_Parthian',
  'Javanese', 'Kaithi', 'Kawi', 'Kayah_Li', 'Kharoshthi', 'Khitan_Small_Script', 'Khojki', 'Khudawadi',
  'Lepcha', 'Limbu', 'Linear_A', 'Linear_B', 'Lisu', 'Lycian', 'Lydian', 'Mahajani', 'Makasar', 'Mandaic',
  'Manichaean', 'Marchen', 'Masaram_Gondi', 'Medefaidrin', 'Meetei_Mayek', 'Mende_Kikakui', 'Meroitic_Cursive',
  'Meroitic_Hieroglyphs', 'Miao', 'Modi', 'Mro', 'Multani', 'Nabataean', 'Nag_Mundari', 'Nandinagari',
  'New_Tai_Lue', 'Newa', 'Nushu', 'Nyiakeng_Puachue_Hmong', 'Ogham', 'Ol_Chiki', 'Old_Hungarian', 'Old_Italic',
  'Old_North_Arabian', 'Old_Permic', 'Old_Persian', 'Old_Sogdian', 'Old_South_Arabian', 'Old_Turkic',
  'Old_Uyghur', 'Osage', 'Osmanya', 'Pahawh_Hmong', 'Palmyrene', 'Pau_Cin_Hau', 'Phags_Pa', 'Phoenician',
  'Psalter_Pahlavi', 'Rejang', 'Runic', 'Samaritan', 'Saurashtra', 'Sharada', 'Shavian', 'Siddham',
  'SignWriting', 'Sogdian', 'Sora_Sompeng', 'Soyombo', 'Sundanese', 'Syloti_Nagri', 'Tagalog', 'Tagbanwa',
  'Tai_Le', 'Tai_Tham', 'Tai_Viet', 'Takri', 'Tangsa', 'Tangut', 'Toto', 'Ugaritic', 'Vithkuqi', 'Wancho',
  'Warang_Citi', 'Yezidi', 'Zanabazar_Square',
  // Added in Unicode 16/17; absent from older engines, so compiled only if supported.
  'Garay', 'Gurung_Khema', 'Kirat_Rai', 'Ol_Onal', 'Sunuwar', 'Todhri', 'Tulu_Tigalari',
  'Beria_Erfe', 'Sidetic', 'Tai_Yo', 'Tolong_Siki',
] as const;

const NEWER_SCRIPTS = new Set(['Garay', 'Gurung_Khema', 'Kirat_Rai', 'Ol_Onal', 'Sunuwar', 'Todhri', 'Tulu_Tigalari', 'Beria_Erfe', 'Sidetic', 'Tai_Yo', 'Tolong_Siki']);

let compiled: { name: string; re: RegExp }[] | undefined;

function scripts(): { name: string; re: RegExp }[] {
  if (compiled) return compiled;
  compiled = [];
  for (const name of SCRIPT_NAMES) {
    try {
      compiled.push({ name, re: new RegExp(`^\\p{Script=${name}}$`, 'u') });
    } catch (e) {
      // Only scripts newer than the running engine's Unicode version may be missing.
      if (!NEWER_SCRIPTS.has(name)) throw e;
    }
  }
  return compiled;
}

/** Script id of "Unknown" (unassigned code points). */
export const SCRIPT_UNKNOWN = -1;
/** Script id of Common (punctuation, digits, symbols). */
export const SCRIPT_COMMON = 1;
/** Script id of Inherited (combining marks). */
export const SCRIPT_INHERITED = 2;
/** Script id used for Han, Hiragana and Katakana together. */
export const SCRIPT_HAN = 6;

const cache = new Map<number, number>();

/** The script id of a code point (an index into the internal name list; -1 for Unknown). */
export function scriptOf(cp: number): number {
  let s = cache.get(cp);
  if (s !== undefined) return s;
  s = SCRIPT_UNKNOWN;
  if (cp === 0x30fc) {
    s = SCRIPT_HAN;
  } else {
    const ch = String.fromCodePoint(cp);
    const list = scripts();
    for (let i = 0; i < list.length; i++) {
      if (list[i].re.test(ch)) { s = i; break; }
    }
    // Hiragana and Katakana are merged into Han.
    if (s === 7 || s === 8) s = SCRIPT_HAN;
  }
  cache.set(cp, s);
  return s;
}

/** The name of a script id (for messages and tests). */
export function scriptName(id: number): string {
  return id === SCRIPT_UNKNOWN ? 'Unknown' : scripts()[id].name;
}

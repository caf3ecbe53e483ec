// Texts with their real token counts, shared by the estimator's calibration test and the
// tokenizer-factor effect tests of each provider. Test data only: nothing in the proxy imports it.

/**
 * Real token counts of each text, measured once with @anthropic-ai/tokenizer (the legacy Claude
 * tokenizer), gpt-tokenizer cl100k_base and o200k_base. Not dependencies: the numbers are frozen here.
 * On the whole calibration corpus (≈90 KB: prose, markdown, code, JSON, 8 scripts) the estimate was
 * 1.02–1.11× the largest count on English prose, 1.1–1.25× on code and JSON, 1.0–1.35× on non-Latin text.
 */
export interface TokenSample {
  name: string;
  claude: number;
  cl100k: number;
  o200k: number;
  text: string;
}

export const SAMPLES: TokenSample[] = [
  {
    name: "prose1",
    claude: 101,
    cl100k: 101,
    o200k: 101,
    text: "Great question! The sky looks blue because of a process called Rayleigh scattering. Sunlight is made up of many different colors, and each color has its own wavelength. When sunlight enters the atmosphere, it collides with tiny gas molecules, mostly nitrogen and oxygen. These molecules scatter shorter wavelengths of light much more strongly than longer ones, so blue light gets bounced around the sky in every direction. When you look up on a clear day, you see that scattered blue light coming at you from all over.",
  },
  {
    name: "prose2",
    claude: 97,
    cl100k: 97,
    o200k: 97,
    text: "It is strange how quickly a new place can start to feel like home. The things that seemed overwhelming at first, like the noise of the traffic or the crowded trains, slowly faded into the background. I found a library with a quiet reading room, a park where people played chess on stone tables, and a bookshop whose owner would happily talk for an hour about a novel he loved. None of these discoveries were remarkable on their own, but together they gave my days a shape.",
  },
  {
    name: "prose3",
    claude: 85,
    cl100k: 82,
    o200k: 80,
    text: "During the closure, a temporary branch will operate out of the community center on Elm Street. Residents will still be able to borrow books, use public computers, and attend children's story hours, although the hours will be shorter than usual. \"We know this is an inconvenience,\" said the library's director, \"but the building is more than eighty years old, and these repairs simply can't wait any longer.\"",
  },
  {
    name: "prose4",
    claude: 115,
    cl100k: 114,
    o200k: 113,
    text: "When you're ready to make a change, create a new branch with a short, descriptive name. Keep each commit small and focused on a single idea, and write a clear message that explains why the change was needed, not just what it does. Before you open a pull request, run the linter and the full test suite one more time. A reviewer will look at your changes, leave comments, and either approve them or ask for a few updates. After the pull request is merged, you can delete your branch and pull the latest changes into your main branch.\n",
  },
  {
    name: "prose5",
    claude: 104,
    cl100k: 96,
    o200k: 90,
    text: "\"Are you coming with us tonight?\" she asked, leaning against the door.\n\n\"I don't know,\" he said. \"I've got a lot of work to finish, and I'm already behind.\"\n\n\"You're always behind. Come on, it'll be fun. Everyone's going to be there, and you haven't seen Sam in ages.\"\n\nHe sighed and closed his laptop. \"Fine. But I'm not staying late. I really need to get up early tomorrow.\"",
  },
  {
    name: "code",
    claude: 306,
    cl100k: 276,
    o200k: 277,
    text: "export function mergeUsage(a: Usage, b: Partial<Usage>): Usage {\n  // Later events overwrite earlier ones; a missing field keeps its value.\n  const out: Usage = { ...a };\n  for (const key of Object.keys(b) as (keyof Usage)[]) {\n    const v = b[key];\n    if (typeof v === 'number' && Number.isFinite(v)) out[key] = v;\n  }\n  return out;\n}\n\nexport class RingBuffer<T> {\n  private readonly items: (T | undefined)[];\n  private head = 0;\n  private size = 0;\n  constructor(private readonly capacity: number) {\n    if (capacity <= 0) throw new RangeError('capacity must be positive');\n    this.items = new Array<T | undefined>(capacity);\n  }\n  push(item: T): void {\n    this.items[(this.head + this.size) % this.capacity] = item;\n    if (this.size < this.capacity) this.size++;\n    else this.head = (this.head + 1) % this.capacity;\n  }\n  toArray(): T[] {\n    const out: T[] = [];\n    for (let i = 0; i < this.size; i++) out.push(this.items[(this.head + i) % this.capacity] as T);\n    return out;\n  }\n}\n",
  },
  {
    name: "python",
    claude: 208,
    cl100k: 196,
    o200k: 198,
    text: "import json\nfrom dataclasses import dataclass, field\n\n\n@dataclass\nclass Budget:\n    name: str\n    cap_usd: float\n    spent_usd: float = 0.0\n    history: list[float] = field(default_factory=list)\n\n    def charge(self, amount: float) -> bool:\n        \"\"\"Charge the budget; refuse when the cap would be passed.\"\"\"\n        if amount < 0:\n            raise ValueError(f\"negative charge: {amount!r}\")\n        if self.spent_usd + amount > self.cap_usd:\n            return False\n        self.spent_usd += amount\n        self.history.append(amount)\n        return True\n\n\ndef load_budgets(path: str) -> dict[str, Budget]:\n    with open(path, encoding=\"utf-8\") as f:\n        raw = json.load(f)\n    return {b[\"name\"]: Budget(**b) for b in raw.get(\"budgets\", [])}\n",
  },
  {
    name: "json",
    claude: 181,
    cl100k: 171,
    o200k: 172,
    text: "{\"type\":\"response.created\",\"response\":{\"id\":\"resp_67c9fdcecf488190bdd9a0409de3a1ec07b8b0ad4e5eb654\",\"object\":\"response\",\"created_at\":1741290958,\"status\":\"in_progress\",\"error\":null,\"incomplete_details\":null,\"instructions\":\"You are a helpful assistant.\",\"max_output_tokens\":null,\"model\":\"gpt-5.4\",\"output\":[],\"parallel_tool_calls\":true,\"previous_response_id\":null,\"reasoning\":{\"effort\":null,\"summary\":null},\"store\":true,\"temperature\":1.0,\"text\":{\"format\":{\"type\":\"text\"}},\"tool_choice\":\"auto\",\"tools\":[],\"top_p\":1.0,\"truncation\":\"disabled\",\"usage\":null,\"user\":null,\"metadata\":{}}}",
  },
  {
    name: "toolInput",
    claude: 89,
    cl100k: 79,
    o200k: 80,
    text: "{\"file_path\":\"/home/dev/spendcap/src/proxy/relay.ts\",\"old_string\":\"  const upTo = received - parser.pendingBytes;\\n  if (pending === null && upTo === received) {\",\"new_string\":\"  const upTo = received - parser.pendingBytes;\\n  // fast path: nothing pending\\n  if (pending === null && upTo === received) {\"}",
  },
  {
    name: "chinese",
    claude: 161,
    cl100k: 195,
    o200k: 122,
    text: "天空之所以是蓝色的，是因为一种叫做瑞利散射的现象。阳光由许多不同颜色的光组成，每种颜色都有自己的波长。当阳光进入大气层时，它会与微小的气体分子碰撞，主要是氮气和氧气。这些分子对短波长光的散射比长波长光强得多，因此蓝光会向各个方向散射。在晴朗的日子里抬头看，你就会看到来自四面八方的散射蓝光。",
  },
  {
    name: "japanese",
    claude: 175,
    cl100k: 189,
    o200k: 139,
    text: "空が青く見えるのは、レイリー散乱と呼ばれる現象のためです。太陽の光はさまざまな色の光で構成されており、それぞれの色には固有の波長があります。太陽光が大気に入ると、主に窒素と酸素からなる小さな気体分子に衝突します。これらの分子は、長い波長の光よりも短い波長の光を強く散乱させるため、青い光が空のあらゆる方向に散らばります。",
  },
  {
    name: "russian",
    claude: 210,
    cl100k: 194,
    o200k: 108,
    text: "Небо кажется голубым из-за явления, которое называется рэлеевским рассеянием. Солнечный свет состоит из множества цветов, и у каждого цвета своя длина волны. Когда солнечный свет попадает в атмосферу, он сталкивается с крошечными молекулами газа, в основном азота и кислорода. Эти молекулы рассеивают короткие волны гораздо сильнее, чем длинные, поэтому синий свет разлетается по всему небу.",
  },
  {
    name: "emoji",
    claude: 90,
    cl100k: 88,
    o200k: 70,
    text: "Great job! 🎉🎉 You did it 😀👍 Let's celebrate 🥳🍰 and then get back to work 💻🚀. Weather: ☀️🌧️❄️ Flags: 🇺🇸🇯🇵 Family: 👨‍👩‍👧‍👦 Hearts ❤️💙💚",
  },
];

/** Largest count of the measured tokenizers (legacy Claude, cl100k_base, o200k_base). */
export const measured = (s: TokenSample): number => Math.max(s.claude, s.cl100k, s.o200k);

/**
 * Random base64 (seeded, so the text is the same every run). No frozen count: its true count is
 * taken by a stated worst-case rule, at most one token per 2 characters in cl100k/o200k-style BPE
 * (random base64 runs about 2.5–3 characters a token there).
 */
export function base64Sample(chars = 600): TokenSample {
  let seed = 7;
  const abc = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
  let text = '';
  for (let i = 0; i < chars; i++) {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    text += abc.charAt(Math.floor((seed / 2147483648) * 64));
  }
  const n = Math.ceil(chars / 2);
  return { name: 'base64', claude: n, cl100k: n, o200k: n, text };
}

/** One text of each kind the effect tests stream: English, code, JSON, base64, CJK, emoji. */
export function kindsOfText(): TokenSample[] {
  const by = (name: string): TokenSample => {
    const s = SAMPLES.find((x) => x.name === name);
    if (!s) throw new Error(`no sample ${name}`);
    return s;
  };
  return [by('prose5'), by('prose4'), by('python'), by('json'), by('toolInput'), base64Sample(), by('chinese'), by('japanese'), by('emoji')];
}

/**
 * The worst plausible ratio of a model family's real output count to the measured count, stated as
 * facts, independent of the factors in src/providers (which these tests check by their effect):
 * - Claude 3.5–4.6: 1.15 (their tokenizer makes about 10–16% more tokens than cl100k on English).
 * - Claude 4.7 and later: 1.45 (Anthropic's pricing notes: "Claude 4.7+ uses a new tokenizer that
 *   produces about 30% more tokens", the team's provider notes (NOTES.md §5.1); 1.1 × 1.3 ≈ 1.43).
 * - open-weight vocabularies (Llama, Mistral, Qwen): 1.3, the older SentencePiece vocabularies.
 * - Gemini: 1.15, plus one token per digit (its SentencePiece vocabulary splits every digit).
 * - OpenAI o200k models: 1 (the o200k count is measured).
 */
export type TokenizerFamily = 'claude-older' | 'claude-newer' | 'open-weight' | 'gemini' | 'openai';
export const WORST_RATIO: Readonly<Record<TokenizerFamily, number>> = {
  'claude-older': 1.15,
  'claude-newer': 1.45,
  'open-weight': 1.3,
  gemini: 1.15,
  openai: 1,
};

/** What a model of this family plausibly bills at worst for the text. */
export function worstCaseTokens(family: TokenizerFamily, s: TokenSample): number {
  if (family === 'openai') return s.o200k;
  const digits = family === 'gemini' ? (s.text.match(/[0-9]/g)?.length ?? 0) : 0;
  return Math.ceil(measured(s) * WORST_RATIO[family]) + digits;
}

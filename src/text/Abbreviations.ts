/**
 * The words a reader needs to know to tell a full stop from an abbreviation's dot. Lists of facts (the kinds
 * follow the Pragmatic Segmenter's: titles that introduce a name, abbreviations that may also close a sentence,
 * the words that most often begin one), kept here so the rules in Boundaries.ts read as rules.
 *
 * Every list is compared lower-case, without the dots ("e.g." → "eg"), except `starters`, which is compared as
 * written (it is a list of capitalised words).
 */

const set = (words: string) => new Set(words.split(/\s+/u).filter((w) => w.length > 0))

/**
 * Titles and words that introduce what follows ("Dr. Patel", "Mt. Fuji", "e.g. a tent", "Ali vs. Frazier"):
 * their dot never ends a sentence, whatever comes next. "St" and "Dr" are also streets ("Baker St."), and "Ft"
 * is also feet ("6 ft."): Boundaries.ts reads those from the word before them.
 */
export const introducing = set(`
  mr mrs ms mx messrs mssrs mme mlle mmes sra srta msgr dr drs prof profs rev revd hon pres gov govs sen sens rep reps
  gen col capt cpt lt maj sgt cpl pvt cmdr comdr adm brig insp det supt atty attys fr rt st ste mt ft
  eg ie cf viz vs v approx ca incl excl esp fig figs
`)

/**
 * Abbreviations that may also end a sentence ("...Pitt, Briggs & Co. It closed yesterday."): not an end before
 * a lower-case word or a number ("& Co. at noon", "p. 55", "Jan. 3"), an end before a capital.
 */
export const closing = set(`
  etc al co corp inc ltd llc plc bros jr sr esq phd md dds ba ma bsc msc mba
  dept univ assn assoc est ext dist div intl natl mfg mgr mgmt acct bldg apt govt
  jan feb mar apr jun jul aug sep sept oct nov dec mon tue tues wed thu thur thurs fri
  ave blvd rd ln hwy pkwy sq ct
  no nos nr vol vols p pp pg ch chap sec secs art eq eqs ref refs ed eds trans repr op cit ibid misc
  min mins hr hrs yr yrs mo mos wk wks oz lb lbs yd yds mi gal qt pt tsp tbsp doz pkg avg
`)

/** What follows a company's or a person's name and so never starts a sentence ("Campbell & Co. Ltd."). */
export const suffixes = set(`co corp inc ltd llc plc jr sr esq phd md`)

/** Units that follow a number ("6 ft. tall", "3 lbs. of flour"): closing abbreviations there. */
export const units = set(`ft in lb lbs oz yd yds mi gal qt pt tsp tbsp doz sq min mins hr hrs sec secs`)

/** Titles that are also street words ("Baker St.", "Mulholland Dr."), read as streets after a capitalised word. */
export const streets = set(`st dr`)

/** "a.m." and "p.m.": an end before a capital ("...at 6 P.M. Mr. Smith then went"), unless they open it. */
export const clock = set(`am pm`)

/** Words that introduce a time at the start of a sentence: "At 5 a.m. Mr. Smith went to the bank." */
export const timeIntroducers = set(`at by around about until till before after from since near between circa`)

/**
 * Capitalised words that usually begin a sentence. After an initial or a dotted acronym a capital is most often
 * a name ("Jonas E. Smith", "the U.S. Government"); one of these is most often a new sentence ("you and I. Did
 * you see", "I live in the U.S. How about you?").
 */
export const starters = set(`
  A An The This That These Those There Then Thus Therefore However Meanwhile Nevertheless Still Yet So But And Or
  I He She It We They You My His Her Its Our Their Your Me Him Us Them
  What When Where Who Whom Whose Why How Which
  Is Are Was Were Be Being Been Do Does Did Can Could Will Would Shall Should May Might Must Have Has Had
  In On At For From With Without After Before Since During While Although Though Because If Unless Once As
  No Not Yes Now Here Today Tomorrow Yesterday Later Soon Finally First Next Last Also Even Only Let Please
  Many Most More Some Several All Each Every Both Either Neither Such Millions Thousands Hundreds
`)

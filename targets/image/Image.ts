/**
 * `shot:K:image`: one still per shot prompt. K numbers shots across the film, but nothing positional enters
 * the fingerprint (the shot's own prompt, the sentence's text, its index within the sentence): inserting a
 * sentence renumbers shots without invalidating any of them. What every image provider shares.
 */
export const version = 1

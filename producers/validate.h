/* Field validators for life-event input: Belgian national register numbers,
 * E.164 phone numbers, e-mail addresses, NIS municipality codes, postcodes,
 * languages and channel names.
 *
 * Every function here is pure: no I/O, no allocation, no global state, so the
 * producer, the segment stage and the fuzzers can call them on any input.
 * Each validator returns SJ_OK or SJ_ERR_INPUT and, on failure, writes a short
 * problem text into the caller-owned `problem` buffer (NULL or size 0 to skip
 * it). Problem texts are lowercase, have no trailing period, say what is
 * expected, and never repeat the value: register numbers, e-mail addresses and
 * phone numbers are personal data and problem texts end up in logs.
 *
 *     char nrn[12], why[128];
 *     if (sj_nrn_normalize(cell, cell_len, nrn, why, sizeof why) != SJ_OK)
 *         report("nrn", why);
 *
 * Inputs are byte spans (s, n) and need not be NUL-terminated.
 */
#ifndef SJ_VALIDATE_H
#define SJ_VALIDATE_H

#include <stdbool.h>
#include <stddef.h>

#include "core/common.h"

/* ---- national register number (rijksregisternummer) -------------------------
 *
 * Layout: YYMMDD SSS CC. YYMMDD is the birth date, SSS a serial (001..997,
 * odd for men, even for women), CC the check digits: 97 - (YYMMDDSSS mod 97)
 * for births before 2000, 97 - ((2000000000 + YYMMDDSSS) mod 97) from 2000
 * on. The rule that matches fixes the century (19YY or 20YY); since
 * 2000000000 mod 97 != 0 at most one rule can match.
 *
 * What is accepted:
 *  - 11 digits, bare ("85073003328") or formatted with single separators
 *    '.', '-' or ' ' between digits ("85.07.30-033.28", "850730 033 28");
 *    leading and trailing spaces are ignored;
 *  - month 01..12, or 00 when the register does not know the month;
 *  - BIS numbers (for people not in the population register): month + 20
 *    (sex unknown when assigned) or month + 40 (sex known), so 20..32 and
 *    40..52, again with 20/40 for an unknown month;
 *  - day 01..31, or 00 when unknown;
 *  - when month and day are both known, the date must exist in the century
 *    the check digits imply (so "000229" is 29 February 2000 but not 1900).
 * Births before 1900 cannot be told apart from 2000s births and are not
 * supported; no check is made that the date lies in the past (that would need
 * a clock). */

#define SJ_NRN_LEN 11 /* digits, without the NUL */

/* Validates s[0..n) and writes the 11 bare digits plus a NUL into out. On
 * failure out is left as an empty string. */
sj_status_t sj_nrn_normalize(const char *s, size_t n, char out[SJ_NRN_LEN + 1],
                             char *problem, size_t problem_size);

/* True when s[0..n) is, as a whole, a valid national register number in any
 * form sj_nrn_normalize() accepts. The producer uses it to refuse register
 * numbers that hide in other fields (a name, a household id) and would
 * otherwise reach Kafka in clear. */
bool sj_nrn_looks_like(const char *s, size_t n);

/* Derives the birth date as "YYYY-MM-DD" (out holds 11 bytes) from a number in
 * any accepted form; for BIS numbers the month offset is removed. Returns
 * SJ_ERR_INPUT when the number is invalid or its month or day is 00 (the
 * register does not know the full date), with a problem text saying which. */
sj_status_t sj_nrn_birth_date(const char *s, size_t n, char out[11], char *problem,
                              size_t problem_size);

/* ---- contact data ----------------------------------------------------------- */

/* E.164 phone number: '+' and 8..15 digits, the first not 0, no spaces or
 * other punctuation. Belgian numbers (+32) must have 8 (landline) or 9
 * (mobile) digits after the country code and no trunk prefix 0. */
sj_status_t sj_e164_valid(const char *s, size_t n, char *problem, size_t problem_size);

/* A plausible e-mail address, stricter than RFC 5322 on purpose:
 *  - at most 254 bytes, exactly one '@', no whitespace or control characters;
 *  - local part 1..64 bytes of dot-atom text (letters, digits and
 *    !#$%&'*+-/=?^_`{|}~), dots not first, last or doubled; quoted local
 *    parts ("john doe"@…) are refused;
 *  - domain 1..253 bytes, at least two labels of 1..63 letters, digits and
 *    hyphens, not starting or ending with a hyphen, no trailing dot, no
 *    address literal ([192.0.2.1]); the last label is not all digits;
 *  - ASCII only: an internationalised domain must be given in its IDNA
 *    A-label (punycode, "xn--") form, which the label rule accepts; non-ASCII
 *    local parts (SMTPUTF8) are refused because not every relay supports them. */
sj_status_t sj_email_valid(const char *s, size_t n, char *problem, size_t problem_size);

/* ---- codes ------------------------------------------------------------------ */

/* NIS (INS) municipality code: exactly 5 digits, the first 1..9 (e.g. 44021). */
sj_status_t sj_nis_valid(const char *s, size_t n, char *problem, size_t problem_size);

/* Belgian postcode: exactly 4 digits, 1000..9999. */
sj_status_t sj_postcode_valid(const char *s, size_t n, char *problem,
                              size_t problem_size);

/* Language of correspondence: exactly "nl", "fr", "de" or "en" (lowercase). */
sj_status_t sj_language_valid(const char *s, size_t n, char *problem,
                              size_t problem_size);

/* ---- channels ---------------------------------------------------------------
 *
 * The channel enum itself (sj_channel_t) is declared by segments/campaign.h;
 * to keep stages independent of each other this parser returns the index in
 * the shared order 0 = email, 1 = sms, 2 = app, which casts to sj_channel_t. */

#define SJ_VALIDATE_CHANNELS 3

/* Parses exactly "email", "sms" or "app" (lowercase) into *index (0, 1, 2). */
sj_status_t sj_channel_parse(const char *s, size_t n, unsigned *index, char *problem,
                             size_t problem_size);

#endif

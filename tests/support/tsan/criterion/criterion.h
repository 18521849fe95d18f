/* In ThreadSanitizer builds this directory comes first on the include path,
 * so every suite's <criterion/criterion.h> is the small runner of
 * tests/support/crlite.h: Criterion itself cannot start under TSan. */
#include "crlite.h"

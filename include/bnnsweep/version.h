/* version.h - which program wrote a result, and with which numerics.
 *
 * BNS_VERSION (the release, from CMake) and BNS_GIT_COMMIT name the build.
 * BNS_RESULTS_VERSION names the numerics: bump it in the commit that changes
 * any number a task file holds (training, attacks, evaluation, the data
 * pipeline, the random streams), and never otherwise (tests/compare proves a
 * change leaves them alone). Every model, attack-set and evaluation file
 * records it as the root attribute "results_version"; `bnnsweep run` refuses
 * to resume over task files of another results version (runner.h). Files
 * written before the attribute existed count as version 1, the numerics it
 * was introduced with.
 */
#ifndef BNNSWEEP_VERSION_H
#define BNNSWEEP_VERSION_H

#define BNS_RESULTS_VERSION 1
#define BNS_RESULTS_VERSION_ATTR "results_version"
#define BNS_RESULTS_VERSION_UNRECORDED 1   /* a file without the attribute */

#endif

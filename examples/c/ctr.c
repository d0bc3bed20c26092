/* CTR from C: DeepFM pCTR and the calibrated pCTR stored with the model.
 *
 *   cc -std=c11 -Iinclude examples/c/ctr.c -Ltarget/release -lreckon -o ctr
 *   ./ctr weights/demo
 *
 * The demo model has no stored calibration, so calibrated equals raw; a file written by
 * `reckon calibrate` opens the same way and reports its method. */
#include <stdio.h>
#include <stdlib.h>

#include "reckon.h"

#define ROWS 3
#define FIELDS 10 /* ad_id, advertiser, site, app_category, hour, device_type, user_segment,
                     city, ad_category, os */

static void check(reckon_status s, const char *what) {
  if (s != RECKON_OK) {
    fprintf(stderr, "%s: %s: %s\n", what, reckon_status_str(s), reckon_last_error());
    exit(1);
  }
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s WEIGHTS_DIR (e.g. weights/demo)\n", argv[0]);
    return 2;
  }
  char path[4096];
  snprintf(path, sizeof path, "%s/deepfm.safetensors", argv[1]);

  reckon_ctr *ctr = NULL;
  check(reckon_ctr_open(path, NULL, &ctr), path);
  size_t fields = 0;
  const char *method = NULL;
  check(reckon_ctr_fields(ctr, &fields), "reckon_ctr_fields");
  check(reckon_ctr_calibration(ctr, &method), "reckon_ctr_calibration");
  printf("deepfm: %zu fields, calibration: %s\n", fields, method);
  if (fields != FIELDS) {
    fprintf(stderr, "expected %d fields\n", FIELDS);
    return 1;
  }

  int64_t ids[ROWS][FIELDS] = {
      {12, 3, 40, 7, 20, 1, 150, 9, 30, 2},
      {0, 0, 0, 0, 9, 0, 0, 0, 0, 0},
      {999, 499, 299, 199, 23, 49, 799, 399, 149, 59},
  };
  float pctr[ROWS], calibrated[ROWS];
  check(reckon_ctr_predict(ctr, &ids[0][0], ROWS, FIELDS, pctr, ROWS, calibrated, ROWS),
        "reckon_ctr_predict");
  for (int r = 0; r < ROWS; r++)
    printf("  impression %d  pCTR %.4f  calibrated %.4f\n", r, pctr[r], calibrated[r]);

  /* An id past its field's vocabulary is refused (or mapped to a fallback row if the
     options set one): nothing is written. */
  ids[0][0] = 1000000;
  reckon_status s = reckon_ctr_predict(ctr, &ids[0][0], ROWS, FIELDS, pctr, ROWS, NULL, 0);
  printf("  unknown ad id: %s (%s)\n", reckon_status_str(s), reckon_last_error());

  reckon_ctr_free(ctr);
  return s == RECKON_OUT_OF_RANGE ? 0 : 1;
}

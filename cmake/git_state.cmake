# Run at every build (cmake -P): writes OUT, a source file stating the commit the binary was built from and
# whether the tracked files differed from it. configure_file rewrites OUT only when the text changes, so an
# unchanged state recompiles nothing.
execute_process(COMMAND git -C "${SRC}" rev-parse HEAD OUTPUT_VARIABLE GIT_COMMIT OUTPUT_STRIP_TRAILING_WHITESPACE
                RESULT_VARIABLE commit_rc ERROR_QUIET)
if(NOT commit_rc EQUAL 0 OR GIT_COMMIT STREQUAL "")
  set(GIT_COMMIT "unknown")
  set(GIT_DIRTY -1)
else()
  # Dirty = a tracked source differs from the commit, or an untracked, non-ignored file exists (a new plugin
  # file is compiled in by the glob without being in the commit); the committed outputs (results, figures,
  # benchmark tables) do not make the code dirty.
  execute_process(COMMAND git -C "${SRC}" status --porcelain --untracked-files=normal --
                          . ":!results" ":!plots/figures" ":!bench/RESULTS.md" ":!bench/results.json" ":!bench/ratios.png"
                  OUTPUT_VARIABLE status RESULT_VARIABLE status_rc ERROR_QUIET)
  if(NOT status_rc EQUAL 0)
    set(GIT_DIRTY -1)
  elseif(status STREQUAL "")
    set(GIT_DIRTY 0)
  else()
    set(GIT_DIRTY 1)
  endif()
endif()
configure_file("${SRC}/framework/run/src/git_state.cpp.in" "${OUT}" @ONLY)

// legodnn: the command-line program. Thin: each subcommand (one file each in src/cli) declares its
// options and runs the library; this file only dispatches and turns errors into one line.
#include <cstdio>

#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>

#include "cli/cli.h"
#include "legodnn/util/allocator.h"
#include "legodnn/util/error.h"

int main(int argc, char** argv) {
  legodnn::tune_allocator();
  using namespace legodnn::cli;
  CLI::App app{"LegoDNN-C++: block-grained scaling of DNNs for mobile vision"};
  app.require_subcommand(1);
  const Command commands[] = {add_train(app),    add_eval(app),      add_info(app),    add_build(app),
                              add_calibrate(app), add_baseline(app), add_inspect(app), add_select(app),
                              add_blocks(app),    add_run(app),       add_demo(app),
                              add_import(app),     add_export(app)};
  // Progress lines must show up promptly even when stdout is a file or a pipe.
  spdlog::flush_on(spdlog::level::info);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  set_invocation(argc, argv);
  try {
    for (const auto& c : commands)
      if (c.app->parsed()) return c.run();
  } catch (const legodnn::Error& e) {
    std::fprintf(stderr, "legodnn: error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    // Not one of ours (a torch or library error): still one line, and a non-zero exit.
    std::fprintf(stderr, "legodnn: error: %s\n", e.what());
    return 1;
  }
  return 0;
}

from fjdp.cli.app import run

run()

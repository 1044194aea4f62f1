"""The routes: each module one page or API family, rendering what the page layer builds."""

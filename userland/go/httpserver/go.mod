module cella.example/httpserver

go 1.22
